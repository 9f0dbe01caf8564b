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
	entraValuePath        = regexp.MustCompile(`(?i)([A-Za-z][\w:.\-]*)\[([^\]]*)\]\.([A-Za-z$][\w$]*)\s+(eq|ne|co|sw|ew|gt|ge|lt|le)\s+("(?:[^"\\]|\\.)*"|[^\s()\[\]]+)`)
	entraValuePathPresent = regexp.MustCompile(`(?i)([A-Za-z][\w:.\-]*)\[([^\]]*)\]\.([A-Za-z$][\w$]*)\s+pr\b`)
	// Unquoted string values (Entra's documentation, Microsoft's reference tests):
	// externalId eq jyoung  →  externalId eq "jyoung"
	unquotedValue = regexp.MustCompile(`(?i)(\s(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+)([^\s"()\[\]]+)`)
	literal       = regexp.MustCompile(`^(?i:true|false|null|-?\d+(\.\d+)?([eE][-+]?\d+)?)$`)
)

// parseFilter normalises and parses a filter expression.
func parseFilter(raw string) (filter.Expression, error) {
	text := normalizeFilter(raw)
	expr, err := filter.ParseFilter([]byte(text))
	if err != nil {
		return nil, badRequest(typeInvalidFilter, "the filter %q cannot be parsed", raw)
	}
	return expr, nil
}

func normalizeFilter(raw string) string {
	text := strings.TrimSpace(raw)
	text = entraValuePath.ReplaceAllString(text, `$1[($2) and $3 $4 $5]`)
	text = entraValuePathPresent.ReplaceAllString(text, `$1[($2) and $3 pr]`)
	return quoteBareValues(text)
}

// quoteBareValues quotes comparison values that are neither quoted nor JSON literals, outside
// quoted strings.
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
