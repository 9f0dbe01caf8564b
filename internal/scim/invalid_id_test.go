package scim_test

import (
	"net/url"
	"testing"
)

// Text no store keeps: bytes that are not UTF-8, and the NUL character (PostgreSQL refuses both
// outright, which answered with a 500 and, in a statement shared by organizations, failed the
// others' reads with it).
var unstorable = []string{"a\xffb", "a\x00b"}

// An id in the URL that cannot be stored names nothing: every method answers 404 with an RFC 7644
// error body, on both stores.
func TestIDsThatAreNotUTF8AreNotFound(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		for _, id := range unstorable {
			for _, resource := range []string{"/Users/", "/Groups/"} {
				path := resource + url.PathEscape(id)
				h.do("GET", path, nil).wantError(t, 404, "")
				h.do("DELETE", path, nil).wantError(t, 404, "")
				h.do("PATCH", path, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
					"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "x"}}}).wantError(t, 404, "")
				h.do("PUT", path, map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "x",
					"displayName": "x"}).wantError(t, 404, "")
			}
		}
	})
}

// A filter that cannot be stored is the client's mistake (its strings are JSON strings, and no
// stored value holds a NUL): 400 invalidFilter on both stores, whatever the attribute, the NUL
// sent raw or escaped (PostgreSQL answered case-exact ones with a 500).
func TestFiltersThatAreNotUTF8AreInvalid(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		for _, f := range []string{"externalId eq \"a\xffb\"", "id eq \"\xff\"", "userName eq \"a\xffb\"", "emails[value co \"\xff\"]",
			"userName eq \"a\x00b\"", `userName eq "a\u0000b"`, `externalId eq "\u0000"`, `members[value eq "\u0000"]`} {
			for _, resource := range []string{"/Users", "/Groups"} {
				h.do("GET", resource+"?filter="+url.QueryEscape(f), nil).wantError(t, 400, "invalidFilter")
			}
		}
	})
}

// A body with a NUL character in any string or key is refused with 400 invalidValue on both
// stores; a literal backslash followed by u0000 is not a NUL and is kept.
func TestBodiesWithANULAreInvalid(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.do("POST", "/Users", newUser("nul\x00@example.com", nil)).wantError(t, 400, "invalidValue")
		h.do("POST", "/Users", newUser("title@example.com", map[string]any{"title": "a\x00"})).wantError(t, 400, "invalidValue")
		h.do("POST", "/Users", newUser("key@example.com", map[string]any{"urn:x\x00": "v"})).wantError(t, 400, "invalidValue")
		h.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "G\x00"}).wantError(t, 400, "invalidValue")
		created := h.do("POST", "/Users", newUser(`back\u0000slash@example.com`, nil)).want(t, 201)
		id, _ := created.body["id"].(string)
		h.do("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "x\x00"}}}).wantError(t, 400, "invalidValue")
	})
}
