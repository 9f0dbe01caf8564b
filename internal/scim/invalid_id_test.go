package scim_test

import (
	"net/url"
	"testing"
)

// An id in the URL that is not valid UTF-8 names nothing: every method answers 404 with an RFC
// 7644 error body, on both stores (PostgreSQL refuses such text, which was a 500).
func TestIDsThatAreNotUTF8AreNotFound(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		for _, resource := range []string{"/Users/", "/Groups/"} {
			path := resource + url.PathEscape("a\xffb")
			h.do("GET", path, nil).wantError(t, 404, "")
			h.do("DELETE", path, nil).wantError(t, 404, "")
			h.do("PATCH", path, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
				"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "x"}}}).wantError(t, 404, "")
			h.do("PUT", path, map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "x",
				"displayName": "x"}).wantError(t, 404, "")
		}
	})
}

// A filter that is not valid UTF-8 is the client's mistake (its strings are JSON strings): 400
// invalidFilter on both stores, whatever the attribute (PostgreSQL answered case-exact ones with
// a 500).
func TestFiltersThatAreNotUTF8AreInvalid(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		for _, f := range []string{"externalId eq \"a\xffb\"", "id eq \"\xff\"", "userName eq \"a\xffb\"", "emails[value co \"\xff\"]"} {
			for _, resource := range []string{"/Users", "/Groups"} {
				h.do("GET", resource+"?filter="+url.QueryEscape(f), nil).wantError(t, 400, "invalidFilter")
			}
		}
	})
}
