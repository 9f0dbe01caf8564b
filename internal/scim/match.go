package scim

import (
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
)

// matches evaluates a value filter (the part inside attr[…]) on one element of attr. It serves
// PATCH paths, which address elements of a single resource; list filters run in the database.
func matches(attr *schema.Attribute, elem map[string]any, expr filter.Expression) (bool, error) {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		l, err := matches(attr, elem, e.Left)
		if err != nil {
			return false, err
		}
		r, err := matches(attr, elem, e.Right)
		if err != nil {
			return false, err
		}
		if strings.EqualFold(string(e.Operator), "or") {
			return l || r, nil
		}
		return l && r, nil
	case *filter.NotExpression:
		x, err := matches(attr, elem, e.Expression)
		return !x, err
	case *filter.AttributeExpression:
		sub := attr.Sub(e.AttributePath.AttributeName)
		if sub == nil {
			return false, badRequest(typeInvalidFilter, "%s has no sub-attribute %q", attr.Name, e.AttributePath.AttributeName)
		}
		return compareValue(sub, elem[sub.Name], strings.ToLower(string(e.Operator)), e.CompareValue), nil
	}
	return false, badRequest(typeInvalidFilter, "unsupported expression inside %s[…]", attr.Name)
}

func compareValue(def *schema.Attribute, have any, op string, want any) bool {
	if op == "pr" {
		return have != nil && have != ""
	}
	if have == nil {
		return op == "ne"
	}
	if def.Type == schema.TypeBoolean {
		hb, _ := have.(bool)
		wb, ok := want.(bool)
		if s, isString := want.(string); isString {
			parsed, err := strconv.ParseBool(strings.ToLower(s))
			wb, ok = parsed, err == nil
		}
		if !ok {
			return false
		}
		return (op == "eq") == (hb == wb)
	}
	hs, ok1 := have.(string)
	ws, ok2 := want.(string)
	if !ok1 || !ok2 {
		return false
	}
	ws = unescapeString(ws)
	if !def.CaseExact {
		hs, ws = strings.ToLower(hs), strings.ToLower(ws)
	}
	switch op {
	case "eq":
		return hs == ws
	case "ne":
		return hs != ws
	case "co":
		return strings.Contains(hs, ws)
	case "sw":
		return strings.HasPrefix(hs, ws)
	case "ew":
		return strings.HasSuffix(hs, ws)
	case "gt":
		return hs > ws
	case "ge":
		return hs >= ws
	case "lt":
		return hs < ws
	case "le":
		return hs <= ws
	}
	return false
}

// unescapeString undoes the \" and \\ escapes the filter parser leaves in string values.
func unescapeString(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	if u, err := strconv.Unquote(`"` + s + `"`); err == nil {
		return u
	}
	return s
}
