package scim

import (
	"regexp"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// The filter forms real identity providers send that the RFC grammar does not accept, rewritten
// here, in one place, before parsing (see docs/decisions/0004-scim-protocol-layer.md).
var (
	// Entra ID: emails[type eq "work"].value eq "x"  →  emails[type eq "work" and value eq "x"]
	entraValuePath = regexp.MustCompile(`(?i)([A-Za-z][\w:.\-]*)\[([^\]]*)\]\.([A-Za-z$][\w$]*)\s+` +
		`(eq|ne|co|sw|ew|gt|ge|lt|le)\s+("(?:[^"\\]|\\.)*"|[^\s()\[\]]+)`)
	entraValuePathPresent = regexp.MustCompile(`(?i)([A-Za-z][\w:.\-]*)\[([^\]]*)\]\.([A-Za-z$][\w$]*)\s+pr\b`)
	// Unquoted string values (Entra's documentation, Microsoft's reference tests):
	// externalId eq jyoung  →  externalId eq "jyoung"
	// and unquoted numbers, kept as written: externalId eq 00123  →  externalId eq "00123". Every
	// attribute a number could be compared with is a string (identifiers, employee numbers, phone
	// numbers); parsed as a JSON number, 00123 would become 123 and the comparison fail.
	unquotedValue = regexp.MustCompile(`(?i)(\s(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+)([^\s"()\[\]]+)`)
	orSplit       = regexp.MustCompile(`(?i)\s+or\s+`)
	literal       = regexp.MustCompile(`^(?i:true|false|null)$`)
)

// parseFilter normalises and parses a filter expression of organization org.
func parseFilter(raw, org string) (filter.Expression, error) {
	if expr, ok := simpleComparison(raw); ok {
		return expr, nil
	}
	// The rewrite copies a condition into every alternative of a value path: bounded as it is
	// built, and again once built, or a filter within the limits became one a hundred times past
	// them (or, its alternatives holding no comparison, thousands of times).
	text, ok := normalizeFilter(raw)
	if !ok {
		return nil, badRequest(typeInvalidFilter, "the filter, its value paths written out, is longer than %d bytes", maxFilterBytes)
	}
	if err := checkFilterLength(text); err != nil {
		return nil, err
	}
	if err := checkFilterSize(text, typeInvalidFilter); err != nil {
		return nil, err
	}
	expr, err := parseCached(text, org)
	if err != nil {
		// Not quoted: the detail is audited and shown in status, and filters carry personal data
		// (the query string is never recorded, requestAudit).
		return nil, badRequest(typeInvalidFilter, "the filter cannot be parsed (RFC 7644 §3.4.2.2)")
	}
	return expr, nil
}

// normalizeFilter rewrites raw in the forms the parser takes; not ok when the rewrite would pass
// maxFilterBytes (nothing that large is built).
func normalizeFilter(raw string) (string, bool) {
	text := strings.TrimSpace(raw)
	if !strings.Contains(text, "].") { // the Entra forms need "]." ; most filters have none
		return quoteBareValues(text), true
	}
	budget := maxFilterBytes // of what the rewrites write, all together
	rewrite := func(attr, inner, cond string) string {
		out, ok := distribute(attr, inner, cond, budget)
		if !ok {
			budget = -1
			return ""
		}
		budget -= len(out)
		return out
	}
	text = entraValuePath.ReplaceAllStringFunc(text, func(m string) string {
		if budget < 0 {
			return ""
		}
		g := entraValuePath.FindStringSubmatch(m)
		return rewrite(g[1], g[2], g[3]+" "+g[4]+" "+g[5])
	})
	text = entraValuePathPresent.ReplaceAllStringFunc(text, func(m string) string {
		if budget < 0 {
			return ""
		}
		g := entraValuePathPresent.FindStringSubmatch(m)
		return rewrite(g[1], g[2], g[3]+" pr")
	})
	if budget < 0 {
		return "", false
	}
	return quoteBareValues(text), true
}

// distribute writes attr[inner and cond]. The filter parser accepts no parentheses inside
// brackets, so an "or" inside is distributed: attr[a and cond] or attr[b and cond]. Not ok when
// that would be longer than budget bytes.
func distribute(attr, inner, cond string, budget int) (string, bool) {
	alternatives := orSplit.Split(inner, -1)
	if len(alternatives) > maxFilterTerms || len(alternatives)*(len(attr)+len(cond)+8)+len(inner) > budget {
		return "", false
	}
	parts := make([]string, len(alternatives))
	for i, a := range alternatives {
		parts[i] = attr + "[" + strings.TrimSpace(a) + " and " + cond + "]"
	}
	if len(parts) == 1 {
		return parts[0], true
	}
	return "(" + strings.Join(parts, " or ") + ")", true
}

// quoteBareValues quotes comparison values that are neither quoted nor true, false or null,
// outside quoted strings.
func quoteBareValues(text string) string {
	var out strings.Builder
	inQuote, escaped := false, false
	segment := strings.Builder{}
	flush := func() {
		out.WriteString(unquotedValue.ReplaceAllStringFunc(segment.String(), func(m string) string {
			parts := unquotedValue.FindStringSubmatch(m)
			if literal.MatchString(parts[2]) {
				return m
			}
			return parts[1] + `"` + parts[2] + `"`
		}))
		segment.Reset()
	}
	for _, r := range text {
		switch {
		case inQuote:
			out.WriteRune(r)
			if escaped {
				escaped = false
			} else if r == '\\' {
				escaped = true
			} else if r == '"' {
				inQuote = false
			}
		case r == '"':
			flush()
			out.WriteRune(r)
			inQuote = true
		default:
			segment.WriteRune(r)
		}
	}
	flush()
	return out.String()
}
