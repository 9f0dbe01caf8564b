package scim_test

import (
	"net/http"
	"testing"
)

// RFC 7644 §3.5.2.1: add never removes. An add of an empty list or object adds nothing; it used
// to unassign the attribute (roles, every email, the name). An explicit null still unassigns, and
// a replace with [] still empties a multi-valued attribute.
func TestAnEmptyAddChangesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("empty-add", map[string]any{
			"roles":  []any{"admin"},
			"emails": []any{map[string]any{"value": "e@example.com", "type": "work"}},
			"name":   map[string]any{"givenName": "E", "familyName": "A"},
		}))
		for _, op := range []map[string]any{
			{"op": "Add", "path": "roles", "value": []any{}},
			{"op": "add", "value": map[string]any{"emails": []any{}}},
			{"op": "add", "path": "name", "value": map[string]any{}},
		} {
			r := h.do("PATCH", "/Users/"+id, patchOps(op)).want(t, http.StatusOK)
			if get(r.body, "roles.0.value") != "admin" || get(r.body, "emails.0.value") != "e@example.com" || get(r.body, "name.givenName") != "E" {
				t.Fatalf("%v removed something: %s", op, r.raw)
			}
			if r.header.Get("ETag") != `W/"1"` {
				t.Fatalf("%v changed nothing, yet wrote version %s", op, r.header.Get("ETag"))
			}
		}
		r := h.do("PATCH", "/Users/"+id, patchOps(
			map[string]any{"op": "replace", "path": "roles", "value": []any{}},
			map[string]any{"op": "add", "path": "name", "value": nil},
		)).want(t, http.StatusOK)
		if get(r.body, "roles") != nil || get(r.body, "name") != nil {
			t.Fatalf("replace with [] and add of null unassign: %s", r.raw)
		}
	})
}

// A null sub-attribute of a complex value unassigns that sub-attribute alone, with a path or
// without (RFC 7644 §3.5.2.3; null unassigns). It used to unassign the whole name, or, next to
// other sub-attributes, nothing.
func TestANullSubAttributeUnassignsOnlyItself(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("null-sub", map[string]any{
			"name":   map[string]any{"givenName": "J", "familyName": "J1", "formatted": "J J1"},
			"emails": []any{map[string]any{"value": "j@example.com", "type": "work", "primary": true}},
		}))
		r := h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": "name", "value": map[string]any{"givenName": nil}})).
			want(t, http.StatusOK)
		if get(r.body, "name.givenName") != nil || get(r.body, "name.familyName") != "J1" || get(r.body, "name.formatted") != "J J1" {
			t.Fatalf("replace name {givenName: null}: %s", r.raw)
		}
		r = h.do("PATCH", "/Users/"+id, patchOps(
			map[string]any{"op": "replace", "value": map[string]any{"name": map[string]any{"formatted": nil, "familyName": "J2"}}},
			map[string]any{"op": "replace", "path": `emails[type eq "work"]`, "value": map[string]any{"primary": nil}},
		)).want(t, http.StatusOK)
		if get(r.body, "name.formatted") != nil || get(r.body, "name.familyName") != "J2" ||
			get(r.body, "emails.0.primary") != nil || get(r.body, "emails.0.value") != "j@example.com" {
			t.Fatalf("pathless name {formatted: null, familyName: J2} and an email's primary: null: %s", r.raw)
		}
	})
}
