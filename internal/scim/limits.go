package scim

import "strings"

// Request limits (docs/scim-provisioning.md "Limits", docs/decisions/0009-bounded-request-work.md).
// Each is checked on the decoded body or the raw filter before the work it bounds, so a request
// over a limit costs its decoding and a scan, and is answered with an RFC 7644 error. They sit far
// above what Microsoft Entra ID and Okta send (idp-scim-behaviour.md: a handful of operations per
// PATCH, a few emails or phone numbers per user, one member per Okta operation, one-or-two-term
// filters); what they bound is the cost of a hostile or broken client. The request body itself is
// capped at maxBodyBytes (server.go, 413).
const (
	// maxPatchOperations bounds the Operations of one PATCH (Entra's validator, the busiest
	// sender seen, sends about ten).
	maxPatchOperations = 1000
	// maxAttributeValues bounds the values of one multi-valued attribute other than members: in a
	// POST or PUT body, across the operations of a PATCH, and in the document a PATCH produces.
	maxAttributeValues = 1000
	// maxMembersPerRequest bounds the group members a request names: a POST or PUT body's members,
	// or all member operations of a PATCH together. It is above what fits in a 1 MiB body in
	// Okta's member shape (about 12,800), so full-list group pushes are bounded by the body cap
	// first; its cost in the store is a member insert each (about 8 ms per 1,000 on SQLite).
	maxMembersPerRequest = 20000
	// maxFilterTerms bounds the comparisons (eq, co, pr, …) of a filter or PATCH path.
	maxFilterTerms = 100
	// maxFilterDepth bounds the nesting of parentheses and value paths in a filter or PATCH path.
	maxFilterDepth = 10
	// maxResourceBytes bounds a stored user's or group's document (members are stored apart).
	// The body cap bounds one request, not what PATCHes add up to; every read, page and event
	// snapshot holds documents whole. Entra's and Okta's users are a few KiB.
	maxResourceBytes = 256 << 10
)

func tooMany(format string, args ...any) *Error {
	return badRequest(typeTooMany, format, args...)
}

// valueBudget counts the values a request carries, per attribute, against the limits.
type valueBudget struct {
	members int
	values  map[string]int // lower-cased attribute name → values seen
}

// check walks a JSON value found under key (an attribute name, or "" when unknown) and fails when
// an array in it exceeds its limit or the request's total for that attribute does.
func (b *valueBudget) check(key string, v any) error {
	switch x := v.(type) {
	case []any:
		name := strings.ToLower(key)
		if name == "members" {
			b.members += len(x)
			if b.members > maxMembersPerRequest {
				return tooMany("a request may name at most %d group members", maxMembersPerRequest)
			}
		} else {
			if b.values == nil {
				b.values = map[string]int{}
			}
			b.values[name] += len(x)
			if b.values[name] > maxAttributeValues {
				return tooMany("a request may carry at most %d values of %s", maxAttributeValues, displayKey(key))
			}
		}
		for _, e := range x {
			if err := b.check(key, e); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, e := range x {
			if err := b.check(k, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkMembersFilter counts the members a remove by filter names (members[value eq "a" or value
// eq "b"]: one a comparison) as members the request names: 1,000 operations of 100 each named
// 100,000 members, each a delete in the store's one transaction, charged as none.
func (b *valueBudget) checkMembersFilter(op patchOperation) error {
	if op.Op != "remove" || !strings.Contains(op.Path, "[") || !strings.EqualFold(pathAttribute(op.Path), "members") {
		return nil
	}
	terms, _ := filterSize(op.Path) // counted in the text, before any parsing
	b.members += terms
	if b.members > maxMembersPerRequest {
		return tooMany("a request may name at most %d group members", maxMembersPerRequest)
	}
	return nil
}

func displayKey(key string) string {
	if key == "" {
		return "an attribute"
	}
	return key
}

// checkResourceBody bounds a POST or PUT body before it is canonicalised.
func checkResourceBody(body map[string]any) error {
	var b valueBudget
	return b.check("", body)
}

// pathAttribute is the attribute a PATCH path names, for the limits: "members" for
// "members[value eq \"x\"]" and "urn:…:Group:members", "emails" for "emails[type eq \"work\"].value".
func pathAttribute(path string) string {
	if i := strings.IndexByte(path, '['); i >= 0 {
		path = path[:i]
	}
	if i := strings.LastIndexByte(path, ':'); i >= 0 {
		path = path[i+1:]
	}
	name, _, _ := strings.Cut(path, ".")
	return name
}

// checkGrowth refuses a PATCH whose result has a multi-valued attribute above maxAttributeValues
// that the PATCH made longer. Lists already longer (stored before the limit) may still shrink or
// be otherwise changed, so a deprovisioning PATCH always works.
func checkGrowth(before, after map[string]any) error {
	for k, v := range after {
		switch x := v.(type) {
		case []any:
			old, _ := before[k].([]any)
			if len(x) > maxAttributeValues && len(x) > len(old) {
				return tooMany("%s may have at most %d values", k, maxAttributeValues)
			}
		case map[string]any: // an extension object
			old, _ := before[k].(map[string]any)
			if err := checkGrowth(old, x); err != nil {
				return err
			}
		}
	}
	return nil
}

// filterOperators are the comparisons a term of a filter is made of (RFC 7644 §3.4.2.2).
var filterOperators = map[string]bool{
	"eq": true, "ne": true, "co": true, "sw": true, "ew": true, "gt": true, "ge": true, "lt": true, "le": true, "pr": true,
}

// checkFilterSize refuses a filter or PATCH path with more terms or deeper nesting than the limits,
// in one pass over the raw text: the parser is never given more. scimType is invalidFilter for
// filters and invalidPath for PATCH paths.
func checkFilterSize(text, scimType string) error {
	terms, depth := filterSize(text)
	if terms > maxFilterTerms {
		return badRequest(scimType, "a filter may have at most %d comparisons", maxFilterTerms)
	}
	if depth > maxFilterDepth {
		return badRequest(scimType, "a filter may nest parentheses and value paths at most %d deep", maxFilterDepth)
	}
	return nil
}

// filterSize counts the comparison operators and the deepest nesting of ( and [ outside quoted
// strings. An unbalanced text is left to the parser to refuse.
func filterSize(text string) (terms, maxDepth int) {
	depth := 0
	inQuote, escaped := false, false
	start := -1 // start of the current word, -1 outside one
	endWord := func(end int) {
		if start >= 0 && end-start == 2 && filterOperators[strings.ToLower(text[start:end])] {
			terms++
		}
		start = -1
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if inQuote {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inQuote = false
			}
			continue
		}
		switch c {
		case '"':
			endWord(i)
			inQuote = true
		case '(', '[':
			endWord(i)
			depth++
			maxDepth = max(maxDepth, depth)
		case ')', ']':
			endWord(i)
			depth--
		case ' ', '\t', '\n', '\r':
			endWord(i)
		default:
			if start < 0 {
				start = i
			}
		}
	}
	endWord(len(text))
	return terms, maxDepth
}
