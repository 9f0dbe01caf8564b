package scim_test

import (
	"net/http"
	"testing"
)

// Entra and Okta send PATCHes that change nothing (the value a user already has, booleans as
// strings): they must leave the version and meta.lastModified as they are, and write nothing.
// A PATCH that changes something, even deep in a list, gets a new version.
func TestAPatchThatChangesNothingKeepsTheVersion(t *testing.T) {
	const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("ann@example.com", map[string]any{
			"displayName": "Ann", "active": true, "name": map[string]any{"givenName": "Ann", "familyName": "Lee"},
			"emails":   []any{map[string]any{"value": "ann@example.com", "type": "work", "primary": true}},
			enterprise: map[string]any{"department": "R&D", "manager": map[string]any{"value": "m-1"}},
		}))
		first := h.do("GET", "/Users/"+id, nil).want(t, http.StatusOK)
		version, modified := first.header.Get("ETag"), get(first.body, "meta.lastModified")
		unchanged := []map[string]any{
			{"op": "Replace", "path": "active", "value": "True"},
			{"op": "replace", "path": "displayName", "value": "Ann"},
			{"op": "replace", "path": `emails[type eq "work"].value`, "value": "ann@example.com"},
			{"op": "replace", "path": "name.familyName", "value": "Lee"},
			{"op": "replace", "path": enterprise + ":department", "value": "R&D"},
			{"op": "replace", "value": map[string]any{"displayName": "Ann", "active": true}},
			{"op": "add", "path": enterprise + ":manager", "value": map[string]any{"value": "m-1"}},
		}
		for _, op := range unchanged {
			r := h.do("PATCH", "/Users/"+id, patchOps(op)).want(t, http.StatusOK)
			if r.header.Get("ETag") != version || get(r.body, "meta.lastModified") != modified {
				t.Fatalf("%v changed nothing, yet the version went from %s to %s (lastModified %v → %v)",
					op, version, r.header.Get("ETag"), modified, get(r.body, "meta.lastModified"))
			}
		}
		changed := []map[string]any{
			{"op": "replace", "path": `emails[type eq "work"].primary`, "value": false},
			{"op": "replace", "path": "name.familyName", "value": "Leigh"},
			{"op": "replace", "path": "active", "value": "False"},
		}
		for _, op := range changed {
			r := h.do("PATCH", "/Users/"+id, patchOps(op)).want(t, http.StatusOK)
			if r.header.Get("ETag") == version {
				t.Fatalf("%v changed the user, yet the version stayed %s", op, version)
			}
			version = r.header.Get("ETag")
		}
	})
}
