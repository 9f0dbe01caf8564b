package scim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// What a resource stores is bounded by size, not only what one request carries: an indexed
// value (userName, externalId, a group's displayName, the primary email) at 1 KiB, since
// PostgreSQL refuses longer index entries (a 4 KiB userName was a 500 there and stored on
// SQLite), and a document at 256 KiB, which PATCHes of 1 MiB bodies could otherwise grow without
// end. Both answer 400 invalidValue on both stores.
func TestStoredValuesAreBoundedBySize(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		long := strings.Repeat("x", 1025)
		h.do("POST", "/Users", newUser(long, nil)).wantError(t, http.StatusBadRequest, "invalidValue")
		h.do("POST", "/Users", newUser("ext@example.com", map[string]any{"externalId": long})).wantError(t, http.StatusBadRequest, "invalidValue")
		h.do("POST", "/Users", newUser("mail@example.com", map[string]any{"emails": []any{map[string]any{"value": long, "primary": true}}})).
			wantError(t, http.StatusBadRequest, "invalidValue")
		h.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": long}).
			wantError(t, http.StatusBadRequest, "invalidValue")
		h.do("POST", "/Users", newUser(strings.Repeat("y", 1024), nil)).want(t, http.StatusCreated)

		h.do("POST", "/Users", newUser("big@example.com", map[string]any{"title": strings.Repeat("t", 300<<10)})).
			wantError(t, http.StatusBadRequest, "invalidValue")
		created := h.do("POST", "/Users", newUser("grows@example.com", map[string]any{"title": strings.Repeat("t", 200<<10)})).want(t, http.StatusCreated)
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
		createLargeUsers(t, h, "page", 40)
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

// A user stored before the bounds, larger than they allow (a 300 KiB document, a primary email
// of 1,100 bytes in mixed case), stays writable as long as it does not grow: deactivated by
// Entra's PATCH and Okta's PUT echo alike, on both stores (PostgreSQL returns the document in a
// spelling of its own, and the email column lower-cased).
func TestAUserStoredBeforeTheBoundsStaysWritable(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		email := "Legacy." + strings.Repeat("x", 1100) + "@Example.com"
		body := map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": "legacy@example.com",
			"active": true, "title": strings.Repeat("t", 300<<10), "emails": []any{map[string]any{"value": email, "primary": true}}}
		doc, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		legacy := &store.Resource{Org: h.org, Kind: store.KindUser, ID: "legacy-user", Name: "legacy@example.com", Email: email,
			Active: true, Doc: doc, Created: now, Modified: now, Version: 1}
		if err := h.st.Create(t.Context(), legacy, nil, store.Write{Binding: bindingOf(h.org)}); err != nil {
			t.Fatal(err)
		}
		h.do("PATCH", "/Users/legacy-user", patchOps(map[string]any{"op": "Replace", "path": "active", "value": "False"})).want(t, http.StatusOK)
		body["active"] = true
		h.do("PUT", "/Users/legacy-user", body).want(t, http.StatusOK)
		body["active"] = false
		h.do("PUT", "/Users/legacy-user", body).want(t, http.StatusOK)
		h.do("PATCH", "/Users/legacy-user", patchOps(map[string]any{"op": "add", "path": "nickName", "value": strings.Repeat("n", 1000)})).
			wantError(t, http.StatusBadRequest, "invalidValue")
	})
}

// PostgreSQL sends a page's rows whole, those past its 8 MiB bound too (closing the rows reads
// them), so they are charged as the page's: 100 users of 250 KiB cost a page of 32 what all 100
// do. SQLite reads no row past the bound.
func TestRowsReadPastAPagesBoundAreCharged(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h, _ = limitedHarness(t, h.st, nil)
		createLargeUsers(t, h, "drain", 100)
		h.setRateLimit(1, 100)
		time.Sleep(10 * time.Millisecond)
		statuses := make([]int, 3)
		for i := range statuses {
			statuses[i] = h.do("GET", "/Users?count=1000", nil).status
		}
		// Each page: 1, then what its documents cost past the burst's share, owed.
		want := []int{http.StatusOK, http.StatusOK, http.StatusOK} // SQLite: 32 a page
		if strings.HasSuffix(t.Name(), "postgres") {
			want[2] = http.StatusTooManyRequests // 98 a page
		}
		if fmt.Sprint(statuses) != fmt.Sprint(want) {
			t.Fatalf("three pages answered %v, want %v", statuses, want)
		}
	})
}

// createLargeUsers creates n users of 250 KiB each (a title), named prefix000@example.com on.
func createLargeUsers(t *testing.T, h *harness, prefix string, n int) {
	t.Helper()
	h.setRateLimit(100000, 100000)
	for i := range n {
		h.do("POST", "/Users", newUser(fmt.Sprintf("%s%03d@example.com", prefix, i), map[string]any{"title": strings.Repeat("t", 250<<10)})).
			want(t, http.StatusCreated)
	}
}
