package scim_test

import (
	"net/http"
	"strings"
	"testing"
)

// A group's displayName is unique in its organization, case-insensitively (Entra ID finds groups
// by it): a second group of a name, or a rename onto one, is 409 uniqueness; another organization
// may use it.
func TestGroupDisplayNamesAreUnique(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.do("POST", "/Groups", map[string]any{"displayName": "Marketing"}).want(t, http.StatusCreated)
		dup := h.do("POST", "/Groups", map[string]any{"displayName": "MARKETING"})
		dup.wantError(t, http.StatusConflict, "uniqueness")
		if !strings.Contains(dup.raw, "displayName is already taken") {
			t.Fatalf("the conflict does not say what is taken: %s", dup.raw)
		}
		sales := h.do("POST", "/Groups", map[string]any{"displayName": "Sales"}).want(t, http.StatusCreated).body["id"].(string)
		h.do("PATCH", "/Groups/"+sales, patchOps(map[string]any{"op": "replace", "path": "displayName", "value": "marketing"})).
			wantError(t, http.StatusConflict, "uniqueness")
		h.do("PUT", "/Groups/"+sales, map[string]any{"displayName": "Marketing"}).wantError(t, http.StatusConflict, "uniqueness")
		h.do("PATCH", "/Groups/"+sales, patchOps(map[string]any{"op": "replace", "path": "displayName", "value": "SALES"})).
			want(t, http.StatusNoContent)
		h.asB().do("POST", "/Groups", map[string]any{"displayName": "Marketing"}).want(t, http.StatusCreated)
	})
}
