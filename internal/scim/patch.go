package scim

import (
	"strings"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// patchOperation is one normalised PATCH operation: op lower-cased, path as sent.
type patchOperation struct {
	Op    string
	Path  string
	Value any
	// HasValue: the operation carries "value", even null (which unassigns).
	HasValue bool
}

// parsePatch reads a PatchOp body. Keys are matched case-insensitively ("Operations", "op",
// "Path"), and ops may be capitalised (Entra sends "Add", "Replace", "Remove"). The request
// limits (limits.go) are checked here, before any operation is applied.
// It also returns how many group members the operations name (the rate limit charges them).
func parsePatch(body map[string]any) (ops []patchOperation, members int, err error) {
	var raw []any
	for k, v := range body {
		if strings.EqualFold(k, "Operations") {
			raw, _ = v.([]any)
		}
	}
	if len(raw) == 0 {
		return nil, 0, badRequest(typeInvalidValue, "the PATCH request has no Operations")
	}
	if len(raw) > maxPatchOperations {
		return nil, 0, tooMany("a PATCH request may have at most %d operations", maxPatchOperations)
	}
	var budget valueBudget
	ops = make([]patchOperation, 0, len(raw))
	for i, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, 0, badRequest(typeInvalidSyntax, "operation %d is not an object", i+1)
		}
		var op patchOperation
		for k, v := range m {
			switch strings.ToLower(k) {
			case "op":
				s, _ := v.(string)
				op.Op = strings.ToLower(s)
			case "path":
				op.Path, _ = v.(string)
			case "value":
				op.Value, op.HasValue = v, true
			}
		}
		switch op.Op {
		case "add", "replace":
			// RFC 7644 §3.5.2.1 and §3.5.2.3: they MUST carry a value. Read as null it would
			// unassign the attribute: a group's members, a user's active (which then reads true).
			if !op.HasValue {
				return nil, 0, badRequest(typeInvalidValue, "operation %d: %s needs a value", i+1, op.Op)
			}
		case "remove":
		default:
			return nil, 0, badRequest(typeInvalidSyntax, "operation %d: op must be add, replace or remove", i+1)
		}
		if err := budget.check(pathAttribute(op.Path), op.Value); err != nil {
			return nil, 0, err
		}
		if err := budget.checkMembersFilter(op); err != nil {
			return nil, 0, err
		}
		ops = append(ops, op)
	}
	return ops, budget.members, nil
}

// patcher applies operations to a canonical document; group membership becomes a member change.
type patcher struct {
	rt      *schema.ResourceType
	kind    store.Kind
	doc     map[string]any
	members *memberDelta
	// targets caches resolved paths: the path parser costs tens of microseconds, and a PATCH may
	// repeat one path in up to maxPatchOperations operations.
	targets map[string]*target
}

// memberDelta is the net effect of membership operations, in order: each id is added or removed
// in constant time (idset.go), so a 20,000-member operation costs 20,000 steps, not 20,000².
type memberDelta struct {
	replace bool
	add     idSet
	remove  idSet
}

func (d *memberDelta) addID(id string) {
	d.remove.drop(id)
	d.add.put(id)
}

func (d *memberDelta) removeID(id string) {
	d.add.drop(id)
	if !d.replace {
		d.remove.put(id)
	}
}

// replaceAll starts over: the members become exactly those added from now on.
func (d *memberDelta) replaceAll() {
	d.replace = true
	d.add.reset()
	d.remove.reset()
}

func (d *memberDelta) change() *store.MemberChange {
	if d == nil || !d.replace && d.add.len() == 0 && d.remove.len() == 0 {
		return nil
	}
	return &store.MemberChange{Replace: d.replace, Add: d.add.list(), Remove: d.remove.list()}
}

// applyPatch applies ops to doc (a copy is changed) and returns the new document and member
// change. Any failing operation fails the whole request (RFC 7644 §3.5.2: atomic).
func applyPatch(rt *schema.ResourceType, kind store.Kind, doc map[string]any, ops []patchOperation) (map[string]any, *store.MemberChange, error) {
	p := &patcher{rt: rt, kind: kind, doc: deepCopy(doc)}
	for _, op := range ops {
		if err := p.apply(op.Op, op.Path, op.Value, true); err != nil {
			return nil, nil, err
		}
	}
	out, err := canonicalize(rt, p.doc)
	if err != nil {
		return nil, nil, err
	}
	var change *store.MemberChange
	if p.members != nil {
		change = p.members.change()
	}
	return out, change, nil
}

func (p *patcher) apply(op, path string, value any, explicit bool) error {
	if path == "" {
		return p.applyPathless(op, value)
	}
	if s := p.schemaNamed(path); s != nil {
		return p.applySchema(op, s, value)
	}
	t, err := p.resolvePath(path)
	if err != nil || t == nil {
		return err
	}
	attr := t.resolved.Attr
	members := p.kind == store.KindGroup && attr.Name == "members"
	if members && t.sub != nil {
		// A member is its id: "members.display" would have emptied or replaced the group.
		return badRequest(typeInvalidPath, "members' sub-attributes cannot be changed one by one")
	}
	if ok, err := writableTarget(t, explicit); !ok {
		return err
	}
	if members {
		return p.applyMembers(op, t.filter, value)
	}
	if err := p.checkRemovable(t, op, value); err != nil {
		return err
	}
	container := p.container(t.resolved.Extension, op != "remove")
	if container == nil {
		return nil
	}
	defer p.dropEmptyExtension(t.resolved.Extension)
	switch {
	case t.filter != nil && op == "remove":
		return p.removeFiltered(container, attr, t.sub, t.filter)
	case t.filter != nil:
		return p.applyFiltered(container, attr, t.sub, t.filter, op, value)
	case t.sub != nil:
		return p.applySub(container, attr, t.sub, op, value)
	}
	return p.applyAttribute(container, attr, op, value)
}

// writableTarget says whether a client may change t's attribute and sub-attribute: a path naming
// a read-only one is refused (explicit), a pathless key naming one is ignored.
func writableTarget(t *target, explicit bool) (bool, error) {
	for _, a := range []*schema.Attribute{t.resolved.Attr, t.sub} {
		if a == nil || writable(a) {
			continue
		}
		if explicit && a.Mutability != schema.WriteOnly {
			name := a.Name
			if a == t.sub {
				name = t.resolved.Attr.Name + "." + a.Name
			}
			return false, &Error{Status: 400, ScimType: typeMutability, Detail: name + " is read-only"}
		}
		return false, nil
	}
	return true, nil
}

// checkRemovable refuses to unassign what must stay: a required attribute, and a user's active
// (a user without it reads as active: removing it must not give a deactivated user access back).
func (p *patcher) checkRemovable(t *target, op string, value any) error {
	attr := t.resolved.Attr
	if t.filter != nil || t.sub != nil {
		return nil
	}
	if op == "remove" && attr.Required {
		return &Error{Status: 400, ScimType: typeMutability, Detail: attr.Name + " is required and cannot be removed"}
	}
	if p.kind == store.KindUser && t.resolved.Extension == nil && attr.Name == "active" && (op == "remove" || value == nil) {
		return badRequest(typeInvalidValue, "active cannot be removed; set it to true or false")
	}
	return nil
}

// writable says whether a client may set an attribute, in a body or a PATCH (passwords are
// accepted and dropped).
func writable(attr *schema.Attribute) bool {
	return attr.Name != "id" && attr.Name != "meta" && attr.Mutability != schema.ReadOnly && attr.Mutability != schema.WriteOnly
}

// applyPathless handles add/replace without a path: each key of the object value is a path,
// possibly dotted ("name.givenName") or URN-qualified; an extension URN key holds an object of
// its attributes.
func (p *patcher) applyPathless(op string, value any) error {
	if op == "remove" {
		return badRequest(typeNoTarget, "remove needs a path")
	}
	obj, ok := value.(map[string]any)
	if !ok {
		return badRequest(typeInvalidValue, "%s without a path needs an object value", op)
	}
	for k, v := range obj {
		if err := p.apply(op, k, v, false); err != nil {
			return err
		}
	}
	return nil
}

// schemaNamed is the resource type's schema whose URN is path, if any.
func (p *patcher) schemaNamed(path string) *schema.Schema {
	if strings.EqualFold(path, p.rt.Schema.ID) {
		return p.rt.Schema
	}
	return p.rt.Extension(path)
}

// applySchema handles a path or pathless key naming a whole schema: an object value's keys are
// that schema's attributes, as in a pathless operation; remove or null unassigns them all, unless
// one is required. It used to be ignored, as a schema this server does not serve is.
func (p *patcher) applySchema(op string, s *schema.Schema, value any) error {
	if op != "remove" && value != nil {
		obj, ok := value.(map[string]any)
		if !ok {
			return badRequest(typeInvalidValue, "%s needs an object of its attributes", s.ID)
		}
		for k, v := range obj {
			if err := p.apply(op, s.ID+":"+k, v, false); err != nil {
				return err
			}
		}
		return nil
	}
	var ext *schema.Schema
	if s != p.rt.Schema {
		ext = s
	}
	c := p.container(ext, false)
	for _, a := range s.Attributes {
		if a.Required {
			return &Error{Status: 400, ScimType: typeMutability, Detail: s.ID + " has required attributes and cannot be removed"}
		}
		if c != nil && writable(a) {
			delete(c, a.Name)
		}
	}
	p.dropEmptyExtension(ext)
	return nil
}

// target is a resolved PATCH path: the attribute, an optional value filter and sub-attribute.
type target struct {
	resolved schema.Resolved
	filter   filter.Expression
	sub      *schema.Attribute
}

// resolvePath parses a PATCH path. Unknown attributes resolve to nil (ignored, as in POST and PUT).
func (p *patcher) resolvePath(path string) (*target, error) {
	if t, ok := p.targets[path]; ok {
		return t, nil
	}
	t, err := p.parseTarget(path)
	if err == nil {
		if p.targets == nil {
			p.targets = map[string]*target{}
		}
		p.targets[path] = t
	}
	return t, err
}

func (p *patcher) parseTarget(path string) (*target, error) {
	if err := checkFilterSize(path, typeInvalidPath); err != nil {
		return nil, err
	}
	urn, rest := p.rt.SplitURN(path)
	parsed, err := parsePatchPath(rest)
	if err != nil {
		return nil, badRequest(typeInvalidPath, "invalid path %q", path)
	}
	if prefix := parsed.AttributePath.URIPrefix; prefix != nil && *prefix != "" {
		// A schema this resource type does not have (an identity provider's custom extension,
		// urn:…:extension:acme:2.0:User:department): ignored as unknown attributes are, never
		// resolved by its attribute name to a core or enterprise attribute of the same name.
		return nil, nil
	}
	sub := ""
	if parsed.AttributePath.SubAttribute != nil {
		sub = *parsed.AttributePath.SubAttribute
	}
	if parsed.SubAttribute != nil {
		sub = *parsed.SubAttribute
	}
	r, ok := p.rt.Resolve(urn, parsed.AttributePath.AttributeName, "")
	if !ok {
		return nil, nil
	}
	t := &target{resolved: r, filter: parsed.ValueExpression}
	if sub != "" {
		if t.sub = r.Attr.Sub(sub); t.sub == nil {
			return nil, nil
		}
	}
	return t, nil
}

// container is the object holding the attribute: the document or an extension object.
func (p *patcher) container(ext *schema.Schema, create bool) map[string]any {
	if ext == nil {
		return p.doc
	}
	m, _ := p.doc[ext.ID].(map[string]any)
	if m == nil && create {
		m = map[string]any{}
		p.doc[ext.ID] = m
	}
	return m
}

func (p *patcher) dropEmptyExtension(ext *schema.Schema) {
	if ext == nil {
		return
	}
	if m, _ := p.doc[ext.ID].(map[string]any); len(m) == 0 {
		delete(p.doc, ext.ID)
	}
}

// applyAttribute handles a path naming a whole attribute.
func (p *patcher) applyAttribute(c map[string]any, attr *schema.Attribute, op string, value any) error {
	if op == "remove" {
		if attr.MultiValued && value != nil {
			// Remove listed values (the Entra form for members, accepted for every multi-valued
			// attribute) rather than the whole attribute.
			values, err := coerce(attr, value)
			if err != nil {
				return err
			}
			list, _ := c[attr.Name].([]any)
			setOrDelete(c, attr.Name, removeValues(list, asList(values)))
			return nil
		}
		delete(c, attr.Name)
		return nil
	}
	val, err := coerce(attr, value)
	if err != nil {
		return err
	}
	if obj, ok := value.(map[string]any); ok && attr.Type == schema.TypeComplex && !attr.MultiValued && attr.Name != "manager" {
		// Complex single value: the given sub-attributes replace theirs; others stay.
		merged, _ := c[attr.Name].(map[string]any)
		merged = deepCopy(merged)
		if merged == nil {
			merged = map[string]any{}
		}
		mergeSubs(merged, attr, obj, val)
		setOrDelete(c, attr.Name, merged)
		return nil
	}
	if val == nil && value != nil && op == "add" && !isReference(attr) {
		// RFC 7644 §3.5.2.1: add never unassigns; an empty list or object adds nothing. An
		// explicit null unassigns, as do the manager's empty forms ("", []).
		return nil
	}
	switch {
	case val == nil:
		delete(c, attr.Name)
	case attr.MultiValued && op == "add":
		// RFC 7644 §3.5.2.1: values already present are not added again.
		list, _ := c[attr.Name].([]any)
		list, added := appendMissing(list, asList(val))
		c[attr.Name] = enforcePrimary(list, added)
	case attr.MultiValued:
		list := asList(val)
		c[attr.Name] = enforcePrimary(list, nil)
	default:
		c[attr.Name] = val
	}
	return nil
}

// isReference says whether attr is a single reference to another resource (the manager): a
// single-valued complex attribute with a "value" sub-attribute.
func isReference(attr *schema.Attribute) bool {
	return !attr.MultiValued && attr.Type == schema.TypeComplex && attr.Sub("value") != nil
}

// applySub handles "attr.sub" without a filter.
func (p *patcher) applySub(c map[string]any, attr, sub *schema.Attribute, op string, value any) error {
	var val any
	if op != "remove" {
		v, err := coerce(sub, value)
		if err != nil {
			return err
		}
		val = v
	}
	if !attr.MultiValued {
		obj, _ := c[attr.Name].(map[string]any)
		obj = deepCopy(obj)
		if obj == nil {
			obj = map[string]any{}
		}
		setOrDelete(obj, sub.Name, val)
		dropEmptyReference(attr, obj)
		setOrDelete(c, attr.Name, obj)
		return nil
	}
	// "emails.value": every element; an empty list gets one element.
	list, _ := c[attr.Name].([]any)
	if len(list) == 0 && val != nil {
		list = []any{map[string]any{}}
	}
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			setOrDelete(m, sub.Name, val)
		}
	}
	setOrDelete(c, attr.Name, compact(list))
	return nil
}

// filtered is attr's values as a list (a single complex value is a list of one), the indexes
// of those matching expr, and how to store the list back.
func (p *patcher) filtered(c map[string]any, attr *schema.Attribute, expr filter.Expression) (list []any, matched []int, save func([]any), err error) {
	if attr.Type != schema.TypeComplex {
		return nil, nil, nil, badRequest(typeInvalidPath, "%s has no sub-attributes to filter on", attr.Name)
	}
	if attr.MultiValued {
		list, _ = c[attr.Name].([]any)
	} else if obj, ok := c[attr.Name].(map[string]any); ok {
		list = []any{obj}
	}
	for i, e := range list {
		m, _ := e.(map[string]any)
		ok, err := matches(attr, m, expr)
		if err != nil {
			return nil, nil, nil, err
		}
		if ok {
			matched = append(matched, i)
		}
	}
	save = func(l []any) {
		l = compact(l)
		switch {
		case attr.MultiValued:
			setOrDelete(c, attr.Name, l)
		case len(l) == 0:
			delete(c, attr.Name)
		default:
			c[attr.Name] = l[0]
		}
	}
	return list, matched, save, nil
}

// removeFiltered handles remove of "attr[filter]" (matching values) and "attr[filter].sub".
func (p *patcher) removeFiltered(c map[string]any, attr, sub *schema.Attribute, expr filter.Expression) error {
	list, matched, save, err := p.filtered(c, attr, expr)
	if err != nil {
		return err
	}
	if sub == nil {
		list = dropIndexes(list, matched)
	} else {
		for _, i := range matched {
			delete(list[i].(map[string]any), sub.Name)
		}
	}
	save(list)
	return nil
}

// applyFiltered handles add and replace of "attr[filter]" and "attr[filter].sub".
func (p *patcher) applyFiltered(c map[string]any, attr, sub *schema.Attribute, expr filter.Expression, op string, value any) error {
	list, matched, save, err := p.filtered(c, attr, expr)
	if err != nil {
		return err
	}
	if len(matched) == 0 {
		// Entra adds or replaces "emails[type eq \"work\"].value" on users without a work email
		// and expects the element to be created (idp-scim-behaviour Q5). Build it from the
		// filter's equality conditions.
		seed, ok := seedFromFilter(attr, expr)
		if !ok || (op == "replace" && sub == nil) {
			return badRequest(typeNoTarget, "no %s value matches the filter", attr.Name)
		}
		if setsNothing(attr, sub, value) {
			return nil // a null or empty value creates no element: there is nothing to unassign
		}
		list = append(list, seed)
		matched = []int{len(list) - 1}
	}
	for _, i := range matched {
		elem := deepCopy(list[i].(map[string]any))
		if err := setElement(elem, attr, sub, value); err != nil {
			return err
		}
		list[i] = elem
	}
	if attr.MultiValued {
		list = enforcePrimary(list, matched)
	}
	save(list)
	return nil
}

// setsNothing says whether value, set on a new element, would give it nothing: null, "", or an
// object of such values. An error is left to setElement.
func setsNothing(attr, sub *schema.Attribute, value any) bool {
	var v any
	var err error
	if sub != nil {
		v, err = coerce(sub, value)
	} else {
		v, err = coerceSingle(attr, value)
	}
	if obj, ok := v.(map[string]any); ok && err == nil {
		for _, x := range obj {
			if x != nil && x != "" {
				return false
			}
		}
		return true // {"value": ""}: nothing either
	}
	return err == nil && (v == nil || v == "")
}

// setElement sets a sub-attribute of an element, or merges an object value into it.
func setElement(elem map[string]any, attr, sub *schema.Attribute, value any) error {
	if sub != nil {
		v, err := coerce(sub, value)
		if err != nil {
			return err
		}
		setOrDelete(elem, sub.Name, v)
		return nil
	}
	v, err := coerceSingle(attr, value)
	if err != nil {
		return err
	}
	if obj, ok := value.(map[string]any); ok {
		mergeSubs(elem, attr, obj, v)
	}
	return nil
}

// mergeSubs sets the sub-attributes of raw, as coerced, in dst: a null one is unassigned (coerce
// drops it, so it is read from raw), and those not given stay (RFC 7644 §3.5.2.3).
func mergeSubs(dst map[string]any, attr *schema.Attribute, raw map[string]any, coerced any) {
	for k, v := range raw {
		if sub := attr.Sub(k); sub != nil && v == nil {
			delete(dst, sub.Name)
		}
	}
	obj, _ := coerced.(map[string]any)
	for k, v := range obj {
		dst[k] = v
	}
}

// applyMembers turns membership operations into a member change.
func (p *patcher) applyMembers(op string, expr filter.Expression, value any) error {
	if p.members == nil {
		p.members = &memberDelta{}
	}
	d := p.members
	if expr != nil {
		if op != "remove" {
			return badRequest(typeInvalidPath, "members[…] can only be used to remove members")
		}
		ids, err := memberIDsFromFilter(expr, nil)
		if err != nil {
			return err
		}
		for _, id := range ids {
			d.removeID(id)
		}
		return nil
	}
	ids, err := memberIDs(value)
	if err != nil {
		return err
	}
	switch op {
	case "add":
		for _, id := range ids {
			d.addID(id)
		}
	case "replace":
		d.replaceAll()
		for _, id := range ids {
			d.addID(id)
		}
	case "remove":
		if value == nil {
			d.replaceAll()
			return nil
		}
		for _, id := range ids {
			d.removeID(id)
		}
	}
	return nil
}

// memberIDs reads member ids from [{"value": id, …}], a single object or bare strings.
func memberIDs(value any) ([]string, error) {
	var ids []string
	for _, item := range asList(value) {
		switch v := item.(type) {
		case string:
			if v != "" {
				ids = append(ids, v)
			}
		case map[string]any:
			for k, x := range v {
				if strings.EqualFold(k, "value") {
					if s, ok := x.(string); ok && s != "" {
						ids = append(ids, s)
					}
				}
			}
		case nil:
		default:
			return nil, badRequest(typeInvalidValue, "members must be objects with a value")
		}
	}
	return ids, nil
}

// memberIDsFromFilter appends to ids the values of "value eq x" conditions joined by "or".
func memberIDsFromFilter(expr filter.Expression, ids []string) ([]string, error) {
	switch e := expr.(type) {
	case *filter.AttributeExpression:
		if strings.EqualFold(e.AttributePath.AttributeName, "value") && strings.EqualFold(string(e.Operator), "eq") {
			if s, ok := e.CompareValue.(string); ok {
				return append(ids, s), nil
			}
		}
	case *filter.LogicalExpression:
		if strings.EqualFold(string(e.Operator), "or") {
			ids, err := memberIDsFromFilter(e.Left, ids)
			if err != nil {
				return nil, err
			}
			return memberIDsFromFilter(e.Right, ids)
		}
	}
	return nil, badRequest(typeInvalidFilter, "members can be removed by filter only with value eq \"id\" conditions")
}

// seedFromFilter builds a new element from "sub eq value" conditions joined by "and".
func seedFromFilter(attr *schema.Attribute, expr filter.Expression) (map[string]any, bool) {
	seed := map[string]any{}
	var walk func(filter.Expression) bool
	walk = func(e filter.Expression) bool {
		switch e := e.(type) {
		case *filter.AttributeExpression:
			sub := attr.Sub(e.AttributePath.AttributeName)
			if sub == nil || !strings.EqualFold(string(e.Operator), "eq") {
				return false
			}
			v, err := coerceSingle(sub, e.CompareValue)
			if err != nil {
				return false
			}
			seed[sub.Name] = v
			return true
		case *filter.LogicalExpression:
			return strings.EqualFold(string(e.Operator), "and") && walk(e.Left) && walk(e.Right)
		}
		return false
	}
	return seed, walk(expr)
}

// enforcePrimary keeps at most one primary value: when one of the touched elements is primary,
// every other element stops being primary (RFC 7643 §2.4).
func enforcePrimary(list []any, touched []int) []any {
	keep := -1
	for _, i := range touched {
		if m, ok := list[i].(map[string]any); ok && m["primary"] == true {
			keep = i
		}
	}
	if keep < 0 {
		for i, e := range list {
			if m, ok := e.(map[string]any); ok && m["primary"] == true {
				keep = i
			}
		}
	}
	for i, e := range list {
		if m, ok := e.(map[string]any); ok && i != keep && m["primary"] == true {
			m["primary"] = false
		}
	}
	return list
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

func compact(list []any) []any {
	out := list[:0]
	for _, e := range list {
		if m, ok := e.(map[string]any); ok && len(m) == 0 {
			continue
		}
		out = append(out, e)
	}
	return out
}

func setOrDelete(m map[string]any, key string, v any) {
	switch x := v.(type) {
	case nil:
		delete(m, key)
		return
	case []any:
		if len(x) == 0 {
			delete(m, key)
			return
		}
	case map[string]any:
		if len(x) == 0 {
			delete(m, key)
			return
		}
	}
	m[key] = v
}

// deepCopy copies a JSON-shaped map as encoding and decoding it would (copyJSON).
func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out, _ := copyJSON(m).(map[string]any)
	return out
}

// replacesMembers says whether a PATCH may remove group members it does not name: a replace of
// members (by path, or a replace of the whole resource or of its schema carrying them, the key
// plain or schema-qualified), a remove of the group's schema, or a remove of members without a
// filter or a list of them (Entra's remove names its members in value).
func replacesMembers(ops []patchOperation) bool {
	for _, op := range ops {
		whole := strings.EqualFold(pathAttribute(op.Path), "members") && !strings.Contains(op.Path, "[")
		switch {
		case op.Op == "replace" && whole:
			return true
		case op.Op == "replace" && (op.Path == "" || schemaPath(op.Path)):
			if carriesMembers(op.Value) {
				return true
			}
		case op.Op == "remove" && schemaPath(op.Path):
			return true
		case op.Op == "remove" && whole:
			if list, ok := op.Value.([]any); !ok || len(list) == 0 {
				return true
			}
		}
	}
	return false
}

// schemaPath reports a PATCH path naming a schema ("urn:ietf:params:scim:schemas:core:2.0:Group")
// rather than one of its attributes.
func schemaPath(path string) bool {
	lower := strings.ToLower(path)
	return strings.HasPrefix(lower, "urn:") && !strings.Contains(lower, "[") &&
		strings.HasSuffix(lower, ":group") // the one schema of a group that holds members
}

// carriesMembers reports a value setting members: a key "members", plain or schema-qualified,
// or a schema's key whose object carries one.
func carriesMembers(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k, e := range m {
		if strings.EqualFold(pathAttribute(k), "members") || schemaPath(k) && carriesMembers(e) {
			return true
		}
	}
	return false
}
