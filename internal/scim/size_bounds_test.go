package scim_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What a resource stores is bounded by size, not only what one request carries: an indexed
// value (userName, externalId, a group's displayName, the primary email) at 1 KiB, since
// PostgreSQL refuses longer index entries (a 4 KiB userName was a 500 there and stored on
// SQLite), and a document at 256 KiB, which PATCHes of 1 MiB bodies could otherwise grow without
// end. Both answer 400 invalidValue on both stores.
func TestStoredValuesAreBoundedBySize(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		user := func(name string, extra map[string]any) map[string]any {
			body := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": name}
			for k, v := range extra {
				body[k] = v
			}
			return body
		}
		long := strings.Repeat("x", 1025)
		h.do("POST", "/Users", user(long, nil)).wantError(t, http.StatusBadRequest, "invalidValue")
		h.do("POST", "/Users", user("ext@example.com", map[string]any{"externalId": long})).wantError(t, http.StatusBadRequest, "invalidValue")
		h.do("POST", "/Users", user("mail@example.com", map[string]any{"emails": []any{map[string]any{"value": long, "primary": true}}})).
			wantError(t, http.StatusBadRequest, "invalidValue")
		h.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": long}).
			wantError(t, http.StatusBadRequest, "invalidValue")
		h.do("POST", "/Users", user(strings.Repeat("y", 1024), nil)).want(t, http.StatusCreated)

		h.do("POST", "/Users", user("big@example.com", map[string]any{"title": strings.Repeat("t", 300<<10)})).
			wantError(t, http.StatusBadRequest, "invalidValue")
		created := h.do("POST", "/Users", user("grows@example.com", map[string]any{"title": strings.Repeat("t", 200<<10)})).want(t, http.StatusCreated)
		id, _ := created.body["id"].(string)
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "add", "path": "nickName", "value": strings.Repeat("n", 100<<10)})).
			wantError(t, http.StatusBadRequest, "invalidValue")
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": "active", "value": false})).want(t, http.StatusOK)
	})
}

// A page stops at 8 MiB of stored documents (RFC 7644 §3.4.2.4 lets it hold fewer than asked),
// its total counted, not guessed from the short page, and the next page starts after it; a page
// of large documents is owed to the rate limit by its bytes.
func TestAPageIsBoundedByItsDocumentsBytes(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h, _ = limitedHarness(t, h.st, nil)
		h.setRateLimit(100000, 100000)
		for i := range 40 {
			h.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
				"userName": fmt.Sprintf("page%03d@example.com", i), "title": strings.Repeat("t", 250<<10)}).
				want(t, http.StatusCreated)
		}
		first := h.do("GET", "/Users?count=1000&sortBy=userName", nil).want(t, http.StatusOK)
		got := len(first.body["Resources"].([]any))
		if got >= 40 || got < 30 || first.body["totalResults"] != float64(40) || first.body["itemsPerPage"] != float64(got) {
			t.Fatalf("a page of %d resources (itemsPerPage %v) of %v: want at most 8 MiB of them, and the total", got,
				first.body["itemsPerPage"], first.body["totalResults"])
		}
		next := h.do("GET", "/Users?count=1000&sortBy=userName&startIndex="+strconv.Itoa(got+1), nil).want(t, http.StatusOK)
		if n := len(next.body["Resources"].([]any)); n != 40-got {
			t.Fatalf("the next page has %d, want the other %d", n, 40-got)
		}
		// A burst of 100 pays for 100 pages of small documents; of these, about 32 each.
		h.setRateLimit(1, 100)
		time.Sleep(10 * time.Millisecond)
		for i := range 6 {
			if r := h.do("GET", "/Users?count=1000", nil); r.status == http.StatusTooManyRequests {
				if i < 3 {
					t.Fatalf("refused after %d pages", i)
				}
				return
			}
		}
		t.Fatal("six pages of 8 MiB each, and the burst of 100 requests still not spent")
	})
}
