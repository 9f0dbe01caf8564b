package scim

import (
	"strings"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"
)

// parsePatchPath parses a PATCH path (its URN prefix already split off). The filter parser costs
// tens of microseconds for "emails" and about 200 µs for `emails[value eq "x"].type`, so a PATCH
// of 1,000 operations spent most of its time there. The shapes identity providers send — "attr",
// "attr.sub" and `attr[sub eq "string"]` with an optional ".sub" — are read directly into the
// same AST the parser builds (FuzzPatchPathShortcut checks that they agree); anything else goes
// to the parser.
func parsePatchPath(path string) (filter.Path, error) {
	if p, ok := simplePatchPath(path); ok {
		return p, nil
	}
	return filter.ParsePath([]byte(path))
}

func simplePatchPath(s string) (filter.Path, bool) {
	attr, s, ok := cutName(s)
	if !ok {
		return filter.Path{}, false
	}
	if s == "" {
		return filter.Path{AttributePath: filter.AttributePath{AttributeName: attr}}, true
	}
	if s[0] == '.' {
		sub, rest, ok := cutName(s[1:])
		if !ok || rest != "" {
			return filter.Path{}, false
		}
		return filter.Path{AttributePath: filter.AttributePath{AttributeName: attr, SubAttribute: &sub}}, true
	}
	// attr[name eq "value"] and attr[name eq "value"].sub
	if s[0] != '[' {
		return filter.Path{}, false
	}
	name, s, ok := cutName(s[1:])
	if !ok || !strings.HasPrefix(s, ` eq "`) {
		return filter.Path{}, false
	}
	s = s[len(` eq "`):]
	end := strings.IndexByte(s, '"')
	if end < 0 || !plainString(s[:end]) || !strings.HasPrefix(s[end:], `"]`) {
		return filter.Path{}, false
	}
	value, s := s[:end], s[end+2:]
	p := filter.Path{
		AttributePath: filter.AttributePath{AttributeName: attr},
		ValueExpression: &filter.AttributeExpression{
			AttributePath: filter.AttributePath{AttributeName: name}, Operator: filter.EQ, CompareValue: value,
		},
	}
	if s == "" {
		return p, true
	}
	if s[0] != '.' {
		return filter.Path{}, false
	}
	sub, rest, ok := cutName(s[1:])
	if !ok || rest != "" {
		return filter.Path{}, false
	}
	p.SubAttribute = &sub
	return p, true
}

// cutName reads an attribute name (RFC 7644 ATTRNAME, with the parser's optional "$" for "$ref")
// from the start of s.
func cutName(s string) (name, rest string, ok bool) {
	i := 0
	if i < len(s) && s[i] == '$' {
		i++
	}
	if i >= len(s) || !isAlpha(s[i]) {
		return "", s, false
	}
	for i++; i < len(s) && (isAlpha(s[i]) || s[i] >= '0' && s[i] <= '9' || s[i] == '-' || s[i] == '_'); i++ {
	}
	return s[:i], s[i:], true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// plainString is the content of a JSON string with nothing to unescape: valid UTF-8, no control
// characters, quotes or backslashes.
func plainString(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == '\\' || s[i] == '"' {
			return false
		}
	}
	return true
}
