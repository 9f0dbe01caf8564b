package scim

import (
	"strconv"
	"strings"
	"sync"

	filter "github.com/scim2/filter-parser/v2"
)

// Parsing dominated a lookup's CPU time (over half, profiled with test/load), while identity
// providers send the same few filter shapes with different values. So a filter is parsed once per
// shape — its quoted strings replaced by placeholders — and each request gets a copy of that AST
// with its own values.
const maxFilterShapes = 1024

var (
	shapesMu sync.RWMutex
	shapes   = map[string]filter.Expression{}
)

const placeholderPrefix = "\ue000v" // a private-use character: valid in a filter string, absent from real values

// parseCached parses a normalised filter through the shape cache.
func parseCached(text string) (filter.Expression, error) {
	shape, values := splitValues(text)
	shapesMu.RLock()
	tmpl, ok := shapes[shape]
	shapesMu.RUnlock()
	if !ok {
		// Parse the real text first: placeholders must never hide a syntax error.
		if _, err := filter.ParseFilter([]byte(text)); err != nil {
			return nil, err
		}
		parsed, err := filter.ParseFilter([]byte(shape))
		if err != nil {
			return filter.ParseFilter([]byte(text))
		}
		tmpl = parsed
		shapesMu.Lock()
		if len(shapes) < maxFilterShapes {
			shapes[shape] = tmpl
		}
		shapesMu.Unlock()
	}
	return withValues(tmpl, values), nil
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
