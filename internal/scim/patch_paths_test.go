package scim_test

import (
	"net/http"
	"testing"
)

// A path naming a sub-attribute of a group's members is refused: a member is only its id, and
// such paths emptied the group (remove members.display), removed the member (remove
// members[value eq "u"].display) or replaced the member list with the value.
func TestMembersSubAttributePathsAreRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		u := h.create(t, newUser("member-sub", nil))
		group := h.do("POST", "/Groups", map[string]any{"displayName": "subs", "members": []any{map[string]any{"value": u}}}).
			want(t, http.StatusCreated).body["id"].(string)
		for _, op := range []map[string]any{
			{"op": "remove", "path": "members.display"},
			{"op": "remove", "path": `members[value eq "` + u + `"].display`},
			{"op": "replace", "path": "members.display", "value": "x"},
			{"op": "add", "path": "members.value", "value": u},
			{"op": "replace", "value": map[string]any{"members.display": "x"}},
		} {
			h.do("PATCH", "/Groups/"+group, patchOps(op)).wantError(t, http.StatusBadRequest, "invalidPath")
		}
		if r := h.do("GET", "/Groups/"+group, nil).want(t, http.StatusOK); get(r.body, "members.0.value") != u || get(r.body, "meta.version") != `W/"1"` {
			t.Fatalf("a refused members path changed the group: %s", r.raw)
		}
	})
}

// A path naming a read-only sub-attribute is refused as a read-only attribute is (RFC 7644
// §3.5.2: mutability); a pathless body's read-only keys are still ignored.
func TestAReadOnlySubAttributePathIsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("ro-sub", map[string]any{enterpriseSchema: map[string]any{"manager": map[string]any{"value": "m-1"}}}))
		for _, op := range []map[string]any{
			{"op": "replace", "path": enterpriseSchema + ":manager.displayName", "value": "Bob"},
			{"op": "remove", "path": enterpriseSchema + ":manager.displayName"},
		} {
			h.do("PATCH", "/Users/"+id, patchOps(op)).wantError(t, http.StatusBadRequest, "mutability")
		}
		r := h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace",
			"value": map[string]any{enterpriseSchema + ":manager.displayName": "Bob", "title": "T"}})).want(t, http.StatusOK)
		if get(r.body, enterpriseSchema+".manager.displayName") != nil || get(r.body, "title") != "T" {
			t.Fatalf("a pathless read-only key: %s", r.raw)
		}
	})
}

// A path naming a whole schema applies its object as that schema's attributes, as a pathless
// operation does with the object under the URN; remove unassigns them (unless one is required).
// Both used to be ignored with 200. A schema this server does not serve is still ignored.
func TestASchemaURNPathAppliesItsAttributes(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("urn-path", nil))
		r := h.do("PATCH", "/Users/"+id, patchOps(
			map[string]any{"op": "add", "path": enterpriseSchema, "value": map[string]any{"department": "Eng"}},
			map[string]any{"op": "add", "value": map[string]any{userSchema: map[string]any{"nickName": "nn"}}},
			map[string]any{"op": "replace", "path": userSchema, "value": map[string]any{"title": "T"}},
			map[string]any{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:acme:2.0:User", "value": map[string]any{"title": "X"}},
		)).want(t, http.StatusOK)
		if get(r.body, enterpriseSchema+".department") != "Eng" || get(r.body, "nickName") != "nn" || get(r.body, "title") != "T" {
			t.Fatalf("schema URN paths: %s", r.raw)
		}
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "remove", "path": userSchema})).wantError(t, http.StatusBadRequest, "mutability")
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "add", "path": enterpriseSchema, "value": "Eng"})).
			wantError(t, http.StatusBadRequest, "invalidValue")
		r = h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "remove", "path": enterpriseSchema})).want(t, http.StatusOK)
		if get(r.body, enterpriseSchema) != nil || hasSchema(r.body, enterpriseSchema) || get(r.body, "nickName") != "nn" {
			t.Fatalf("remove of the enterprise extension: %s", r.raw)
		}
	})
}
