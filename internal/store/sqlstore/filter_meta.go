package sqlstore

import (
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// Filters on what the store keeps no document field for: the resource's schemas and the meta
// sub-attributes other than created and lastModified. RFC 7644 §3.4.2.2 lets clients select by
// schema (`schemas eq "urn:…:enterprise:2.0:User"`); the others answer from the resource type, or
// are refused rather than compared with nothing (which matched no resource, and every resource
// under `not`).

const (
	sqlTrue  = "(1 = 1)"
	sqlFalse = "(1 = 0)"
)

// metaExpression translates e when it names schemas or a meta sub-attribute without a column;
// handled is false for every other attribute.
func (t *translator) metaExpression(e *filter.AttributeExpression) (sql string, handled bool, err error) {
	p := e.AttributePath
	if p.URIPrefix != nil && *p.URIPrefix != "" && !strings.EqualFold(*p.URIPrefix, t.rt.Schema.ID) {
		return "", false, nil
	}
	sub := ""
	if p.SubAttribute != nil {
		sub = *p.SubAttribute
	}
	switch {
	case strings.EqualFold(p.AttributeName, "schemas") && sub == "":
		sql, err = t.schemasExpression(e)
		return sql, true, err
	case strings.EqualFold(p.AttributeName, "meta") && strings.EqualFold(sub, "resourceType"):
		sql, err = constantExpression(e, "meta.resourceType", t.rt.Name) // caseExact false, as RFC 7643 §3.1 has it
		return sql, true, err
	case strings.EqualFold(p.AttributeName, "meta") && (strings.EqualFold(sub, "version") || strings.EqualFold(sub, "location")):
		return "", true, invalidFilter("filtering on meta.%s is not supported", sub)
	}
	return "", false, nil
}

// schemasExpression: every resource has its type's core schema; an extension's only when its
// document holds the extension's attributes (as the resource is rendered).
func (t *translator) schemasExpression(e *filter.AttributeExpression) (string, error) {
	op := filter.CompareOperator(strings.ToLower(string(e.Operator)))
	if op == filter.PR {
		return sqlTrue, nil
	}
	value, ok := e.CompareValue.(string)
	if !ok || op != filter.EQ && op != filter.NE {
		return "", invalidFilter("schemas is compared with eq, ne or pr and a quoted schema URI")
	}
	value = unescapeFilterString(value)
	has := sqlFalse
	if strings.EqualFold(value, t.rt.Schema.ID) {
		has = sqlTrue
	}
	for _, ext := range t.rt.Extensions {
		if strings.EqualFold(value, ext.ID) {
			has = "(" + t.d.jsonText("r.doc", []string{ext.ID}) + " IS NOT NULL)"
		}
	}
	if op == filter.NE {
		return "(NOT " + has + ")", nil
	}
	return has, nil
}

// constantExpression compares an attribute every resource of the type shares (value) with e's.
func constantExpression(e *filter.AttributeExpression, name, value string) (string, error) {
	op := filter.CompareOperator(strings.ToLower(string(e.Operator)))
	if op == filter.PR {
		return sqlTrue, nil
	}
	compared, ok := e.CompareValue.(string)
	if !ok || op != filter.EQ && op != filter.NE {
		return "", invalidFilter("%s is compared with eq, ne or pr and a quoted value", name)
	}
	if strings.EqualFold(unescapeFilterString(compared), value) == (op == filter.EQ) {
		return sqlTrue, nil
	}
	return sqlFalse, nil
}
