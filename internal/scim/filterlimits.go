package scim

import (
	filter "github.com/scim2/filter-parser/v2"
)

// maxFilterBytes bounds a filter's length (its terms and nesting are bounded by checkFilterSize,
// limits.go). Parsing and normalising cost grows with the text, and a SearchRequest body may be
// up to 1 MiB, so the text is bounded before anything reads it: 100 terms comparing 36-character
// ids take about 5 KiB, and identity providers send one or two terms.
const maxFilterBytes = 32 << 10

// checkFilterLength refuses a filter longer than maxFilterBytes.
func checkFilterLength(text string) error {
	if len(text) > maxFilterBytes {
		return badRequest(typeInvalidFilter, "the filter is %d bytes long; at most %d are accepted", len(text), maxFilterBytes)
	}
	return nil
}

// countTerms counts a parsed filter's comparisons, inside value paths too.
func countTerms(e filter.Expression) int {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		return countTerms(e.Left) + countTerms(e.Right)
	case *filter.NotExpression:
		return countTerms(e.Expression)
	case *filter.ValuePath:
		return countTerms(e.ValueFilter)
	case *filter.AttributeExpression:
		return 1
	}
	return 0
}
