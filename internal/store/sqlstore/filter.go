package sqlstore

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// translator turns a SCIM filter into a parameterised SQL condition on the resource alias "r".
// Attribute names come from the schema (never from the request text) and values are always
// arguments, so nothing the client sends is concatenated into SQL.
type translator struct {
	d    dialect
	kind store.Kind
	rt   *schema.ResourceType
	args []any
	n    int // alias counter
}

func newTranslator(d dialect, kind store.Kind) *translator {
	rt := schema.UserType
	if kind == store.KindGroup {
		rt = schema.GroupType
	}
	return &translator{d: d, kind: kind, rt: rt}
}

func (t *translator) arg(v any) string {
	t.args = append(t.args, v)
	return "?"
}

func (t *translator) alias() string {
	t.n++
	return fmt.Sprintf("e%d", t.n)
}

// where translates a filter into a SQL condition. Every level writes into one builder: nested
// and/or once concatenated their operands' strings at each level, copying a long filter's SQL
// once per level (quadratic in the filter's length); now each term's SQL is written once.
func (t *translator) where(e filter.Expression) (string, error) {
	var b strings.Builder
	if err := t.expression(&b, e); err != nil {
		return "", err
	}
	return b.String(), nil
}

// combine writes and/or and not, with translate for their operands; ok is false for other
// expressions (nothing written).
func combine(b *strings.Builder, e filter.Expression, translate func(*strings.Builder, filter.Expression) error) (ok bool, err error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		b.WriteByte('(')
		if err := translate(b, e.Left); err != nil {
			return true, err
		}
		if strings.EqualFold(string(e.Operator), "or") {
			b.WriteString(" OR ")
		} else {
			b.WriteString(" AND ")
		}
		if err := translate(b, e.Right); err != nil {
			return true, err
		}
		b.WriteByte(')')
		return true, nil
	case *filter.NotExpression:
		b.WriteString("(NOT ")
		if err := translate(b, e.Expression); err != nil {
			return true, err
		}
		b.WriteByte(')')
		return true, nil
	}
	return false, nil
}

func (t *translator) expression(b *strings.Builder, e filter.Expression) error {
	if ok, err := combine(b, e, t.expression); ok {
		return err
	}
	switch e := e.(type) {
	case *filter.AttributeExpression:
		return write(b)(t.attributeExpression(e))
	case *filter.ValuePath:
		return t.valuePath(b, e)
	}
	return invalidFilter("unsupported filter expression %T", e)
}

// write appends a term's SQL to b unless translating it failed.
func write(b *strings.Builder) func(string, error) error {
	return func(sql string, err error) error {
		if err == nil {
			b.WriteString(sql)
		}
		return err
	}
}

// resolve finds the attribute a filter path names.
func (t *translator) resolve(p filter.AttributePath) (schema.Resolved, error) {
	urn := ""
	if p.URIPrefix != nil {
		urn = *p.URIPrefix
	}
	sub := ""
	if p.SubAttribute != nil {
		sub = *p.SubAttribute
	}
	r, ok := t.rt.Resolve(urn, p.AttributeName, sub)
	if !ok {
		return r, invalidFilter("unknown attribute %q", p.String())
	}
	return r, nil
}

func (t *translator) attributeExpression(e *filter.AttributeExpression) (string, error) {
	if sql, handled, err := t.metaExpression(e); handled {
		return sql, err
	}
	r, err := t.resolve(e.AttributePath)
	if err != nil {
		return "", err
	}
	attr := r.Attr
	// Membership lives in the join table.
	if t.kind == store.KindGroup && attr.Name == "members" || t.kind == store.KindUser && attr.Name == "groups" {
		return t.membership(attr, r.Sub, e.Operator, e.CompareValue)
	}
	if attr.MultiValued {
		sub := r.Sub
		if sub == nil && attr.Type == schema.TypeComplex {
			sub = attr.Sub("value") // "emails co x" means "emails.value co x"
		}
		a := t.alias()
		from := t.d.jsonElements("r.doc", jsonPath(r.Extension, attr.Name), a)
		field, def := "", attr
		if sub != nil {
			field, def = sub.Name, sub
		}
		if e.Operator == filter.PR && sub == nil {
			return "EXISTS (SELECT 1 FROM " + from + ")", nil
		}
		cond, err := t.compare(t.d.elementText(a, field), def, e.Operator, e.CompareValue, false)
		if err != nil {
			return "", err
		}
		return "EXISTS (SELECT 1 FROM " + from + " WHERE " + cond + ")", nil
	}
	expr, def, lowered := t.column(r)
	if expr == "" {
		path := jsonPath(r.Extension, attr.Name)
		def = attr
		if r.Sub != nil {
			path, def = append(path, r.Sub.Name), r.Sub
		}
		expr = t.d.jsonText("r.doc", path)
		if def.Type == schema.TypeComplex {
			if e.Operator != filter.PR {
				return "", invalidFilter("%q is complex: compare one of its sub-attributes", e.AttributePath.String())
			}
			return "(" + expr + " IS NOT NULL)", nil
		}
	}
	return t.compare(expr, def, e.Operator, e.CompareValue, lowered)
}

// column maps attributes kept in indexed columns; lowered says the column is already lower-case.
func (t *translator) column(r schema.Resolved) (expr string, def *schema.Attribute, lowered bool) {
	if r.Extension != nil {
		return "", nil, false
	}
	name := r.Attr.Name
	switch {
	case name == "id":
		return "r.id", r.Attr, false
	case name == "externalId":
		return "r.external_id", r.Attr, false
	case name == "meta" && r.Sub != nil && r.Sub.Name == "created":
		return "r.created_us", r.Sub, false
	case name == "meta" && r.Sub != nil && r.Sub.Name == "lastModified":
		return "r.modified_us", r.Sub, false
	case t.kind == store.KindUser && name == "userName", t.kind == store.KindGroup && name == "displayName":
		return "r.name_lower", r.Attr, true
	case t.kind == store.KindUser && name == "active":
		return "r.active", r.Attr, false
	}
	return "", nil, false
}

// membership filters on a group's members (or a user's groups) through the join table: some
// membership matches.
func (t *translator) membership(attr, sub *schema.Attribute, op filter.CompareOperator, value any) (string, error) {
	if op == filter.PR && sub == nil {
		return someMembership(attr, ""), nil
	}
	cond, err := t.membershipCondition(attr, sub, op, value)
	if err != nil {
		return "", err
	}
	return someMembership(attr, cond), nil
}

// someMembership is true when one membership row m of the resource meets cond (none: any).
func someMembership(attr *schema.Attribute, cond string) string {
	// A deleted member's memberships may wait for the group worker too (memberIsThere).
	base := "EXISTS (SELECT 1 FROM scim_group_members m WHERE m.org = r.org AND m.group_id = r.id" + memberIsThere
	if attr.Name == "groups" {
		// A deleted group's memberships may wait for the group worker (group_work.go): a user's
		// groups are those whose row is there, as everywhere else.
		base = "EXISTS (SELECT 1 FROM scim_group_members m WHERE m.org = r.org AND m.member_id = r.id" + groupIsThere
	}
	if cond == "" {
		return base + ")"
	}
	return base + " AND (" + cond + "))"
}

// membershipCondition compares a sub-attribute of the membership row m (value when sub is nil).
func (t *translator) membershipCondition(attr, sub *schema.Attribute, op filter.CompareOperator, value any) (string, error) {
	col, def := "m.group_id", attr.Sub("value")
	if attr.Name == "members" {
		col = "m.member_id"
	}
	if sub != nil {
		// A row holds the member's type and display: a user's groups are typed and named as
		// groups (as they are rendered), so those come from the group.
		ofUser := attr.Name == "groups"
		switch sub.Name {
		case "value":
		case "type":
			col, def = "m.member_type", sub
			if ofUser {
				col = "'" + string(store.KindGroup) + "'"
			}
		case "display":
			col, def = "m.display", sub
			if ofUser {
				col = "(SELECT g.name FROM scim_groups g WHERE g.org = m.org AND g.id = m.group_id)"
			}
		default:
			return "", invalidFilter("filtering on %s.%s is not supported", attr.Name, sub.Name)
		}
	}
	return t.compare(col, def, op, value, false)
}

// valuePath handles attr[subfilter]: some element of attr matches subfilter.
func (t *translator) valuePath(b *strings.Builder, v *filter.ValuePath) error {
	r, err := t.resolve(v.AttributePath)
	if err != nil {
		return err
	}
	if r.Attr.Type != schema.TypeComplex {
		return invalidFilter("%q has no sub-attributes to filter on", v.AttributePath.String())
	}
	if t.kind == store.KindGroup && r.Attr.Name == "members" || t.kind == store.KindUser && r.Attr.Name == "groups" {
		return t.memberValuePath(b, r.Attr, v.ValueFilter)
	}
	a := t.alias()
	from := t.d.jsonElements("r.doc", jsonPath(r.Extension, r.Attr.Name), a)
	if !r.Attr.MultiValued {
		// A single complex value (manager): the "element" is the object itself.
		from = t.d.jsonObjectAsElement("r.doc", jsonPath(r.Extension, r.Attr.Name), a)
	}
	b.WriteString("EXISTS (SELECT 1 FROM " + from + " WHERE ")
	if err := t.elementFilter(b, r.Attr, a, v.ValueFilter); err != nil {
		return err
	}
	b.WriteByte(')')
	return nil
}

// elementFilter translates a value filter whose paths name sub-attributes of attr, evaluated on
// the array element alias a.
func (t *translator) elementFilter(b *strings.Builder, attr *schema.Attribute, a string, e filter.Expression) error {
	return valueFilter(b, attr, e, func(sub *schema.Attribute, x *filter.AttributeExpression) (string, error) {
		return t.compare(t.d.elementText(a, sub.Name), sub, x.Operator, x.CompareValue, false)
	})
}

// valueFilter translates a value filter on attr's values, each of its comparisons of a
// sub-attribute with term.
func valueFilter(b *strings.Builder, attr *schema.Attribute, e filter.Expression,
	term func(sub *schema.Attribute, x *filter.AttributeExpression) (string, error)) error {
	if ok, err := combine(b, e, func(b *strings.Builder, x filter.Expression) error { return valueFilter(b, attr, x, term) }); ok {
		return err
	}
	if x, ok := e.(*filter.AttributeExpression); ok {
		sub := attr.Sub(x.AttributePath.AttributeName)
		if sub == nil || x.AttributePath.SubAttribute != nil {
			return invalidFilter("%q has no sub-attribute %q", attr.Name, x.AttributePath.String())
		}
		return write(b)(term(sub, x))
	}
	return invalidFilter("unsupported expression inside %s[…]", attr.Name)
}

// memberValuePath handles members[…] (a user's groups[…]): one membership must meet the whole
// value filter (RFC 7644 §3.4.2.2: a value filter applies to the same value), not each term
// some membership of its own.
func (t *translator) memberValuePath(b *strings.Builder, attr *schema.Attribute, e filter.Expression) error {
	var cond strings.Builder
	if err := t.membershipFilter(&cond, attr, e); err != nil {
		return err
	}
	b.WriteString(someMembership(attr, cond.String()))
	return nil
}

// membershipFilter translates a value filter on the membership row m.
func (t *translator) membershipFilter(b *strings.Builder, attr *schema.Attribute, e filter.Expression) error {
	return valueFilter(b, attr, e, func(sub *schema.Attribute, x *filter.AttributeExpression) (string, error) {
		return t.membershipCondition(attr, sub, x.Operator, x.CompareValue)
	})
}

// compare builds a two-valued comparison (never NULL, so NOT behaves) of expr with value.
func (t *translator) compare(expr string, def *schema.Attribute, op filter.CompareOperator, value any, lowered bool) (string, error) {
	op = filter.CompareOperator(strings.ToLower(string(op)))
	if op == filter.PR {
		if def.Type == schema.TypeString || def.Type == schema.TypeReference {
			return "(" + expr + " IS NOT NULL AND " + expr + " <> '')", nil
		}
		return "(" + expr + " IS NOT NULL)", nil
	}
	switch def.Type {
	case schema.TypeBoolean:
		return t.compareBoolean(expr, def, op, value)
	case schema.TypeDateTime:
		return t.compareDateTime(expr, def, op, value)
	case schema.TypeInteger, schema.TypeDecimal:
		n, ok := numberValue(value)
		if !ok {
			return "", invalidFilter("%s is a number", def.Name)
		}
		return t.ordering(expr, op, n)
	}
	return t.compareString(expr, def, op, value, lowered)
}

func (t *translator) compareBoolean(expr string, def *schema.Attribute, op filter.CompareOperator, value any) (string, error) {
	b, ok := value.(bool)
	if !ok || (op != filter.EQ && op != filter.NE) {
		return "", invalidFilter("%s is boolean: compare it with eq or ne and true or false", def.Name)
	}
	v := t.d.jsonBool(b)
	if expr == "r.active" {
		v = t.d.columnBool(b)
	}
	return t.equality(expr, op, v), nil
}

func (t *translator) compareDateTime(expr string, def *schema.Attribute, op filter.CompareOperator, value any) (string, error) {
	s, ok := value.(string)
	ts, err := time.Parse(time.RFC3339Nano, s)
	if !ok || err != nil {
		return "", invalidFilter("%s is a dateTime: compare it with an RFC 3339 time such as \"2026-01-02T15:04:05Z\"", def.Name)
	}
	if strings.HasSuffix(expr, "_us") {
		return t.ordering(expr, op, ts.UnixMicro())
	}
	return t.ordering(expr, op, ts.UTC().Format(time.RFC3339Nano))
}

func (t *translator) compareString(expr string, def *schema.Attribute, op filter.CompareOperator, value any, lowered bool) (string, error) {
	s, ok := stringValue(value)
	if !ok {
		return "", invalidFilter("%s is a string: compare it with a quoted value", def.Name)
	}
	if !def.CaseExact {
		s = strings.ToLower(s)
		if !lowered {
			expr = "lower(" + expr + ")"
		}
	}
	switch op {
	case filter.EQ, filter.NE:
		return t.equality(expr, op, s), nil
	case filter.CO:
		return t.like(expr, "%"+escapeLike(s)+"%"), nil
	case filter.SW:
		return t.like(expr, escapeLike(s)+"%"), nil
	case filter.EW:
		return t.like(expr, "%"+escapeLike(s)), nil
	}
	return t.ordering(expr, op, s)
}

// like is two-valued too: a missing value is simply no match, so "not (x co y)" holds for it.
func (t *translator) like(expr, pattern string) string {
	return "(" + expr + " IS NOT NULL AND " + expr + " LIKE " + t.arg(pattern) + " ESCAPE '\\')"
}

func (t *translator) equality(expr string, op filter.CompareOperator, v any) string {
	if op == filter.NE {
		return "(" + expr + " IS NULL OR " + expr + " <> " + t.arg(v) + ")"
	}
	return "(" + expr + " IS NOT NULL AND " + expr + " = " + t.arg(v) + ")"
}

func (t *translator) ordering(expr string, op filter.CompareOperator, v any) (string, error) {
	sqlOp := map[filter.CompareOperator]string{filter.EQ: "=", filter.GT: ">", filter.GE: ">=", filter.LT: "<", filter.LE: "<="}[op]
	if op == filter.NE {
		return t.equality(expr, op, v), nil
	}
	if sqlOp == "" {
		return "", invalidFilter("operator %q cannot be used here", op)
	}
	return "(" + expr + " IS NOT NULL AND " + expr + " " + sqlOp + " " + t.arg(v) + ")", nil
}

// sortExpression is the ORDER BY expression for a sortBy attribute path.
func (t *translator) sortExpression(path string) (string, error) {
	urn, rest := t.rt.SplitURN(path)
	name, sub, _ := strings.Cut(rest, ".")
	r, ok := t.rt.Resolve(urn, name, sub)
	if !ok {
		return "", invalidFilter("cannot sort by unknown attribute %q", path)
	}
	if expr, def, lowered := t.column(r); expr != "" {
		if def.Type == schema.TypeString && !def.CaseExact && !lowered {
			expr = "lower(" + expr + ")"
		}
		return expr, nil
	}
	if t.kind == store.KindGroup && r.Attr.Name == "members" || t.kind == store.KindUser && r.Attr.Name == "groups" {
		return "", invalidFilter("cannot sort by %q", path)
	}
	def, p := r.Attr, jsonPath(r.Extension, r.Attr.Name)
	if r.Attr.MultiValued {
		return t.multiValuedSort(r, p, path)
	}
	if r.Sub != nil {
		def, p = r.Sub, append(p, r.Sub.Name)
	}
	if def.Type == schema.TypeComplex {
		return "", invalidFilter("cannot sort by complex attribute %q", path)
	}
	return caseFolded(t.d.jsonText("r.doc", p), def), nil
}

// multiValuedSort sorts by a multi-valued attribute's value (or the sub-attribute named): of its
// primary element if any, else of its first (RFC 7644 §3.4.2.3).
func (t *translator) multiValuedSort(r schema.Resolved, p []string, path string) (string, error) {
	def := r.Sub
	if def == nil {
		def = r.Attr.Sub("value")
	}
	if def == nil || def.Type == schema.TypeComplex {
		return "", invalidFilter("cannot sort by complex attribute %q", path)
	}
	first := t.d.jsonText("r.doc", append(slices.Clone(p), "0", def.Name))
	if r.Attr.Sub("primary") == nil {
		return caseFolded(first, def), nil
	}
	a := t.alias()
	// The primary flag read as text on both databases: SQLite's JSON true is 1, PostgreSQL's "true".
	primary := "(SELECT " + t.d.elementText(a, def.Name) + " FROM " + t.d.jsonElements("r.doc", p, a) +
		" WHERE CAST(" + t.d.elementText(a, "primary") + " AS TEXT) IN ('true', '1') LIMIT 1)"
	return caseFolded("COALESCE("+primary+", "+first+")", def), nil
}

// caseFolded lower-cases a case-insensitive string attribute's sort key.
func caseFolded(expr string, def *schema.Attribute) string {
	if def.Type == schema.TypeString && !def.CaseExact {
		return "lower(" + expr + ")"
	}
	return expr
}

func jsonPath(ext *schema.Schema, name string) []string {
	if ext != nil {
		return []string{ext.ID, name}
	}
	return []string{name}
}

// numberValue is a filter's number: the parser's, or one written as a string (the SCIM layer
// quotes unquoted numbers to keep their text for string attributes).
func numberValue(v any) (any, bool) {
	switch v := v.(type) {
	case int, int64, float64, json.Number:
		return v, true
	case string:
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			return i, true
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f, true
		}
	}
	return nil, false
}

func stringValue(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return unescapeFilterString(v), true
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// unescapeFilterString undoes JSON string escapes the filter parser leaves in place (\" and \\).
func unescapeFilterString(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var out string
	if err := json.Unmarshal([]byte(`"`+s+`"`), &out); err != nil {
		return s
	}
	return out
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func invalidFilter(format string, args ...any) error {
	return &store.FilterError{Detail: fmt.Sprintf(format, args...)}
}
