package scim_test

import (
	"net/http"
	"strings"
	"testing"
)

// A filter that cannot be parsed is refused without quoting it: the detail is audited, shown in
// the integration's status and its events, and a filter carries personal data (an e-mail here).
func TestARefusedFilterIsNotQuoted(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		r := h.do(http.MethodGet, "/Users?filter=userName%20eq%20%22ada.private%40example.com%22%20and%20((", nil)
		r.wantError(t, http.StatusBadRequest, "invalidFilter")
		if strings.Contains(r.raw, "ada.private") {
			t.Fatalf("the error quotes the filter: %s", r.raw)
		}
	})
}
