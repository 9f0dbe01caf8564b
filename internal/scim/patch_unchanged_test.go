package scim_test

import (
	"context"
	"fmt"
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

// A group write that changes no member, nor anything else, keeps the version and lastModified and
// records no events (RFC 7644 §3.5.2.1): re-adding a member, removing one who is not there, and
// Okta's identical PUT used to write a new version. A write that changes membership still does.
func TestAGroupWriteThatChangesNothingKeepsTheVersion(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		u1, u2 := h.create(t, newUser("kept-1", nil)), h.create(t, newUser("kept-2", nil))
		member := func(id string) map[string]any { return map[string]any{"value": id} }
		put := func(ids ...string) map[string]any {
			list := []any{}
			for _, id := range ids {
				list = append(list, map[string]any{"value": id, "display": "kept"})
			}
			return map[string]any{"displayName": "Kept", "members": list}
		}
		group := h.do("POST", "/Groups", put(u1)).want(t, http.StatusCreated).body["id"].(string)
		modified := get(h.do("GET", "/Groups/"+group, nil).want(t, http.StatusOK).body, "meta.lastModified")
		events := func() int {
			list, err := h.st.Events(context.Background(), h.org, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			return len(list)
		}
		before := events()
		for _, op := range []map[string]any{
			{"op": "add", "path": "members", "value": []any{member(u1)}},
			{"op": "remove", "path": "members", "value": []any{member(u2)}},
			{"op": "remove", "path": `members[value eq "` + u2 + `"]`},
			{"op": "replace", "path": "members", "value": []any{member(u1), member(u1)}},
			{"op": "replace", "value": map[string]any{"displayName": "Kept"}},
		} {
			if r := h.do("PATCH", "/Groups/"+group, patchOps(op)).want(t, http.StatusNoContent); r.header.Get("ETag") != `W/"1"` {
				t.Fatalf("%v changed nothing, yet wrote version %s", op, r.header.Get("ETag"))
			}
		}
		r := h.do("PUT", "/Groups/"+group, put(u1)).want(t, http.StatusOK)
		if r.header.Get("ETag") != `W/"1"` || get(r.body, "meta.lastModified") != modified || get(r.body, "members.0.value") != u1 {
			t.Fatalf("an identical PUT wrote a new version: %s", r.raw)
		}
		if got := events(); got != before {
			t.Fatalf("writes that changed nothing recorded %d events", got-before)
		}
		for i, write := range []func() response{
			func() response {
				return h.do("PATCH", "/Groups/"+group, patchOps(map[string]any{"op": "add", "path": "members", "value": []any{member(u2)}}))
			},
			func() response { return h.do("PUT", "/Groups/"+group, put(u1)) },
			func() response { return h.do("PUT", "/Groups/"+group, put(u2, u1)) },
		} {
			if r := write(); r.header.Get("ETag") != fmt.Sprintf(`W/"%d"`, i+2) {
				t.Fatalf("write %d changed membership, yet the version is %s: %s", i+1, r.header.Get("ETag"), r.raw)
			}
		}
		if got := events(); got <= before {
			t.Fatal("membership changes recorded no events")
		}
	})
}
