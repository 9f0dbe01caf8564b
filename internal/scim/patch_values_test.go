package scim_test

import (
	"net/http"
	"testing"
)

const enterpriseSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// RFC 7644 §3.5.2.1 and §3.5.2.3: add and replace MUST carry a value. Read as null, a replace
// without one unassigned the attribute: it cleared a group's members, and a user's active, which
// then read true and gave a deactivated user access back. An explicit null still unassigns
// (Microsoft's SCIM validator PATCHes optional attributes to null).
func TestAnAddOrReplaceWithoutAValueIsRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("novalue", map[string]any{"active": false, "title": "Engineer"}))
		for _, op := range []string{"replace", "add", "Replace"} {
			h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": op, "path": "active"})).wantError(t, http.StatusBadRequest, "invalidValue")
		}
		r := h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": "title", "value": nil})).want(t, http.StatusOK)
		if get(r.body, "title") != nil || get(r.body, "active") != false {
			t.Fatalf("an explicit null unassigns title and leaves active false: %s", r.raw)
		}

		group := h.do("POST", "/Groups", map[string]any{"displayName": "kept", "members": []any{map[string]any{"value": id}}}).want(t, http.StatusCreated).body["id"].(string)
		h.do("PATCH", "/Groups/"+group, patchOps(map[string]any{"op": "replace", "path": "members"})).wantError(t, http.StatusBadRequest, "invalidValue")
		if r := h.do("GET", "/Groups/"+group, nil).want(t, http.StatusOK); get(r.body, "members.0.value") != id {
			t.Fatalf("a refused replace emptied the group: %s", r.raw)
		}
	})
}

// A user without active reads as active, so active cannot be removed by PATCH, and a PUT that
// leaves it out keeps the user's state (RFC 7644 §3.5.1: an omitted attribute is not asserted).
func TestADeactivatedUserIsNotReactivatedByRemovingActive(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("inactive", map[string]any{"active": false}))
		for _, op := range []map[string]any{
			{"op": "remove", "path": "active"},
			{"op": "replace", "path": "active", "value": nil},
			{"op": "replace", "value": map[string]any{"active": nil}},
		} {
			h.do("PATCH", "/Users/"+id, patchOps(op)).wantError(t, http.StatusBadRequest, "invalidValue")
		}
		r := h.do("PUT", "/Users/"+id, newUser("inactive", map[string]any{"title": "Left"})).want(t, http.StatusOK)
		if get(r.body, "active") != false || get(r.body, "title") != "Left" {
			t.Fatalf("a PUT without active reactivated the user: %s", r.raw)
		}
		r = h.do("PUT", "/Users/"+id, newUser("inactive", map[string]any{"active": true})).want(t, http.StatusOK)
		if get(r.body, "active") != true {
			t.Fatalf("a PUT with active true: %s", r.raw)
		}
	})
}

// Entra sends paths of an admin's custom extension (urn:…:extension:<name>:2.0:User:<attr>).
// Such a schema is not this server's: the operation is ignored, as unknown attributes are, and
// never lands on a core or enterprise attribute of the same name.
func TestACustomExtensionPathChangesNoOtherAttribute(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("custom", map[string]any{"schemas": []string{userSchema, enterpriseSchema},
			enterpriseSchema: map[string]any{"department": "R&D"}}))
		custom := "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
		for _, op := range []map[string]any{
			{"op": "Replace", "path": custom + ":department", "value": "Sales"},
			{"op": "Replace", "path": custom + ":active", "value": "False"},
			{"op": "Replace", "value": map[string]any{custom + ":department": "Sales", custom + ":active": false}},
			{"op": "Remove", "path": custom + ":department"},
		} {
			h.do("PATCH", "/Users/"+id, patchOps(op)).want(t, http.StatusOK)
		}
		r := h.do("GET", "/Users/"+id, nil).want(t, http.StatusOK)
		if get(r.body, enterpriseSchema+".department") != "R&D" || get(r.body, "active") != true {
			t.Fatalf("a custom extension's path changed the enterprise department or active: %s", r.raw)
		}
	})
}

// An older Entra form sends the manager as a list of one value.
func TestAManagerSentAsAListOfOneIsAccepted(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		boss := h.create(t, newUser("boss", nil))
		id := h.create(t, newUser("report", nil))
		r := h.do("PATCH", "/Users/"+id, patchOps(
			map[string]any{"op": "Add", "path": enterpriseSchema + ":manager", "value": []any{map[string]any{"$ref": "../Users/" + boss, "value": boss}}},
			map[string]any{"op": "Add", "path": "title", "value": "Analyst"},
		)).want(t, http.StatusOK)
		if get(r.body, enterpriseSchema+".manager.value") != boss || get(r.body, "title") != "Analyst" {
			t.Fatalf("manager as a list of one: %s", r.raw)
		}
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "Add", "path": enterpriseSchema + ":manager",
			"value": []any{map[string]any{"value": boss}, map[string]any{"value": id}}})).wantError(t, http.StatusBadRequest, "invalidValue")
		r = h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "Replace", "path": enterpriseSchema + ":manager", "value": []any{}})).
			want(t, http.StatusOK)
		if get(r.body, enterpriseSchema+".manager") != nil {
			t.Fatalf("an empty list leaves the manager: %s", r.raw)
		}
	})
}

// If-Match may list several entity tags; the request proceeds when any is the resource's
// (RFC 7232 §3.1, which RFC 7644 §3.14 follows).
func TestIfMatchWithSeveralTags(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("tags", nil))
		replace := patchOps(map[string]any{"op": "replace", "path": "title", "value": "v2"})
		h.do("PATCH", "/Users/"+id, replace, "If-Match", `W/"7", W/"1"`).want(t, http.StatusOK)
		h.do("PATCH", "/Users/"+id, replace, "If-Match", `W/"1", W/"3"`).wantError(t, http.StatusPreconditionFailed, "")
		h.do("DELETE", "/Users/"+id, nil, "If-Match", `W/"1", W/"3"`).wantError(t, http.StatusPreconditionFailed, "")
		h.do("DELETE", "/Users/"+id, nil, "If-Match", `W/"1", W/"2"`).want(t, http.StatusNoContent)
	})
}
