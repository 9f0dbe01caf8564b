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

// "" names no manager: {"value": ""} unassigns the manager, as "" does, with any op and in a PUT;
// it used to be stored as {"value": ""}. A name sent without an id (Okta) is kept.
func TestAnEmptyManagerValueUnassignsTheManager(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		manager := enterpriseSchema + ":manager"
		id := h.create(t, newUser("empty-manager", map[string]any{enterpriseSchema: map[string]any{"manager": map[string]any{"value": "m-1"}}}))
		for _, op := range []map[string]any{
			{"op": "replace", "path": manager, "value": map[string]any{"value": ""}},
			{"op": "add", "path": manager, "value": map[string]any{"value": ""}},
			{"op": "add", "path": manager, "value": ""},
			{"op": "replace", "path": manager + ".value", "value": ""},
		} {
			h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": manager, "value": "m-1"})).want(t, http.StatusOK)
			r := h.do("PATCH", "/Users/"+id, patchOps(op)).want(t, http.StatusOK)
			if get(r.body, enterpriseSchema+".manager") != nil {
				t.Fatalf("%v leaves a manager: %s", op, r.raw)
			}
		}
		r := h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": manager,
			"value": map[string]any{"value": "", "displayName": "Bob"}})).want(t, http.StatusOK)
		if m, _ := get(r.body, enterpriseSchema+".manager").(map[string]any); len(m) != 1 || m["displayName"] != "Bob" {
			t.Fatalf("a manager named without an id: %s", r.raw)
		}
		r = h.do("PUT", "/Users/"+id, newUser("empty-manager", map[string]any{enterpriseSchema: map[string]any{"manager": map[string]any{"value": ""}}})).
			want(t, http.StatusOK)
		if get(r.body, enterpriseSchema+".manager") != nil {
			t.Fatalf("a PUT with manager {value: \"\"}: %s", r.raw)
		}
	})
}

// Entra's "emails[type eq \"work\"].value" creates the element it names when none matches; with
// a null or empty value there is nothing to create, and it used to leave a stub ({"type": "work"}).
func TestAnEmptyValueCreatesNoElement(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("no-stub", map[string]any{"emails": []any{map[string]any{"value": "w@example.com", "type": "work"}}}))
		for _, op := range []map[string]any{
			{"op": "replace", "path": `addresses[type eq "work"].formatted`, "value": nil},
			{"op": "add", "path": `emails[type eq "other"].value`, "value": ""},
			{"op": "replace", "path": `emails[type eq "home"].value`, "value": ""},
			{"op": "add", "path": `phoneNumbers[type eq "mobile"]`, "value": map[string]any{"value": nil}},
			{"op": "add", "path": `emails[type eq "other"]`, "value": map[string]any{"value": ""}},
		} {
			r := h.do("PATCH", "/Users/"+id, patchOps(op)).want(t, http.StatusOK)
			if get(r.body, "addresses") != nil || get(r.body, "phoneNumbers") != nil || get(r.body, "emails.1") != nil ||
				r.header.Get("ETag") != `W/"1"` {
				t.Fatalf("%v created an element: %s", op, r.raw)
			}
		}
		r := h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "add", "path": `emails[type eq "other"].value`, "value": "o@example.com"})).
			want(t, http.StatusOK)
		if get(r.body, "emails.1.value") != "o@example.com" || get(r.body, "emails.1.type") != "other" {
			t.Fatalf("a value for a missing element creates it: %s", r.raw)
		}
	})
}
