package scim_test

import (
	"net/http"
	"testing"
)

// A group's displayName is unique in its organization, case-insensitively (Entra ID finds groups
// by it): a second group of a name, or a rename onto one, is 409 uniqueness; another organization
// may use it.
func TestGroupDisplayNamesAreUnique(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.do("POST", "/Groups", map[string]any{"displayName": "Marketing"}).want(t, http.StatusCreated)
		h.do("POST", "/Groups", map[string]any{"displayName": "MARKETING"}).wantError(t, http.StatusConflict, "uniqueness")
		sales := h.do("POST", "/Groups", map[string]any{"displayName": "Sales"}).want(t, http.StatusCreated).body["id"].(string)
		h.do("PATCH", "/Groups/"+sales, patchOps(map[string]any{"op": "replace", "path": "displayName", "value": "marketing"})).
			wantError(t, http.StatusConflict, "uniqueness")
		h.do("PUT", "/Groups/"+sales, map[string]any{"displayName": "Marketing"}).wantError(t, http.StatusConflict, "uniqueness")
		h.do("PATCH", "/Groups/"+sales, patchOps(map[string]any{"op": "replace", "path": "displayName", "value": "SALES"})).
			want(t, http.StatusNoContent)
		h.asB().do("POST", "/Groups", map[string]any{"displayName": "Marketing"}).want(t, http.StatusCreated)
	})
}
