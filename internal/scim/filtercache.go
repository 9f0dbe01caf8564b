package scim

import (
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/sizedlru"
)

// Parsing dominated a lookup's CPU time (over half, profiled with test/load), while identity
// providers send the same few filter shapes with different values. So a filter is parsed once per
// shape — its quoted strings replaced by placeholders and its whitespace collapsed — and each
// request gets a copy of that AST with its own values.
//
// Clients choose the shapes, so the cache is an LRU bounded by estimated bytes as well as
// entries, and a long shape is parsed every time rather than cached: the few shapes real
// identity providers send are short, and one huge shape must not evict them. The cache is shared
// by every organization (Entra's shapes are the same everywhere), so each organization brings
// at most a sixteenth of it, by entries and by bytes: one cycling thousands of shapes, or long
// ones, parses its own every time past its share, and pushes out at most what fifteen others
// leave free.
const (
	maxFilterShapes          = 1024
	maxFilterShapeBytes      = 1 << 20
	maxCachedShape           = 4 << 10
	maxShapesPerOrganization = maxFilterShapes / 16
	maxShapeBytesPerOrg      = maxFilterShapeBytes / 16
)

// cachedShape is a shape's parsed template, the organization that brought it in and its cost.
type cachedShape struct {
	tmpl filter.Expression
	org  string
	cost int64
}

var (
	shapes = sizedlru.New[string, cachedShape](maxFilterShapes, maxFilterShapeBytes, func(_ string, s cachedShape) {
		shapeOwners.left(s.org, s.cost) // under the cache's lock: quick, and never the cache itself
	})
	shapeOwners = &owners{share: map[string]ownerShare{}}
)

// owners counts the cached shapes, and their bytes, each organization brought in.
type owners struct {
	mu    sync.Mutex
	share map[string]ownerShare
}

type ownerShare struct{ entries, bytes int64 }

// take reserves a place of cost bytes for org, false when it has its share.
func (o *owners) take(org string, cost int64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.share[org]
	if s.entries >= maxShapesPerOrganization || s.bytes+cost > maxShapeBytesPerOrg {
		return false
	}
	o.share[org] = ownerShare{s.entries + 1, s.bytes + cost}
	return true
}

// left gives a place of org back.
func (o *owners) left(org string, cost int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.share[org]
	if s.entries--; s.entries <= 0 {
		delete(o.share, org)
		return
	}
	s.bytes -= cost
	o.share[org] = s
}

// shapeCost estimates a cached shape's memory: its key, and an AST of a few small structs per
// token, which grows with the shape's text.
func shapeCost(shape string) int64 { return 64 + 13*int64(len(shape)) }

const placeholderPrefix = "\ue000v" // a private-use character: valid in a filter string, absent from real values

// parseCached parses a normalised filter through the shape cache. Whitespace outside quoted
// strings is collapsed first, for every filter alike, so "a  eq  b" and "a eq b" are one shape
// and a filter parses the same whether or not its shape is cached. org is the organization asking:
// a shape it brings in counts against its share.
func parseCached(text, org string) (filter.Expression, error) {
	text = collapseSpace(text)
	shape, values := splitValues(text)
	if cached, ok := shapes.Get(shape); ok && validStrings(values) {
		return withValues(cached.tmpl, values), nil
	}
	// Parse the real text first: placeholders must never hide a syntax error.
	expr, err := filter.ParseFilter([]byte(text))
	if err != nil {
		return nil, err
	}
	if len(shape) > maxCachedShape {
		return expr, nil
	}
	tmpl, err := filter.ParseFilter([]byte(shape))
	if err != nil {
		return expr, nil
	}
	if cost := shapeCost(shape); countTerms(tmpl) <= maxFilterTerms && shapeOwners.take(org, cost) {
		if !shapes.Add(shape, cachedShape{tmpl: tmpl, org: org, cost: cost}, cost) {
			shapeOwners.left(org, cost) // not stored
		}
	}
	return expr, nil
}

// collapseSpace turns each run of whitespace outside quoted strings into one space.
func collapseSpace(text string) string {
	var (
		b                         strings.Builder
		inQuote, escaped, pending bool
	)
	b.Grow(len(text))
	for _, r := range text {
		if !inQuote && unicode.IsSpace(r) {
			pending = true
			continue
		}
		if pending {
			b.WriteByte(' ')
			pending = false
		}
		b.WriteRune(r)
		switch {
		case escaped:
			escaped = false
		case inQuote && r == '\\':
			escaped = true
		case r == '"':
			inQuote = !inQuote
		}
	}
	return b.String()
}

// validStrings reports whether every value is a string the filter grammar accepts (RFC 7159
// characters: no raw control characters, only the JSON escapes, \u with upper-case hex digits,
// as filter-parser's grammar has them). A cached shape stands for a filter only if each of its
// values would parse in its place; otherwise the real text is parsed, and its error reported.
func validStrings(values []string) bool {
	for _, v := range values {
		for i := 0; i < len(v); {
			r, size := utf8.DecodeRuneInString(v[i:])
			switch {
			case r == '\\':
				n := escapeLength(v[i:])
				if n == 0 {
					return false
				}
				i += n
				continue
			case r < 0x20 || r == '"':
				return false
			}
			i += size
		}
	}
	return true
}

// escapeLength is the length of the valid escape sequence s starts with, or 0.
func escapeLength(s string) int {
	if len(s) < 2 {
		return 0
	}
	switch s[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if len(s) < 6 {
			return 0
		}
		for _, h := range []byte(s[2:6]) {
			if (h < '0' || h > '9') && (h < 'A' || h > 'F') {
				return 0
			}
		}
		return 6
	}
	return 0
}

// splitValues replaces each quoted string's contents with a numbered placeholder.
func splitValues(text string) (string, []string) {
	var (
		b       strings.Builder
		values  []string
		current strings.Builder
		inQuote bool
		escaped bool
	)
	for _, r := range text {
		switch {
		case !inQuote:
			b.WriteRune(r)
			if r == '"' {
				inQuote = true
				current.Reset()
			}
		case escaped:
			escaped = false
			current.WriteRune(r)
		case r == '\\':
			escaped = true
			current.WriteRune(r)
		case r == '"':
			inQuote = false
			b.WriteString(placeholderPrefix + strconv.Itoa(len(values)) + `"`)
			values = append(values, current.String())
		default:
			current.WriteRune(r)
		}
	}
	if inQuote { // unterminated: let the parser report it on the real text
		return text, nil
	}
	return b.String(), values
}

// withValues copies an AST, putting values back in place of placeholders.
func withValues(e filter.Expression, values []string) filter.Expression {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		return &filter.LogicalExpression{Left: withValues(e.Left, values), Right: withValues(e.Right, values), Operator: e.Operator}
	case *filter.NotExpression:
		return &filter.NotExpression{Expression: withValues(e.Expression, values)}
	case *filter.ValuePath:
		return &filter.ValuePath{AttributePath: e.AttributePath, ValueFilter: withValues(e.ValueFilter, values)}
	case *filter.AttributeExpression:
		c := *e
		if s, ok := c.CompareValue.(string); ok && strings.HasPrefix(s, placeholderPrefix) {
			if i, err := strconv.Atoi(s[len(placeholderPrefix):]); err == nil && i < len(values) {
				c.CompareValue = values[i]
			}
		}
		return &c
	}
	return e
}
