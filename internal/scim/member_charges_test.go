package scim_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Members a PATCH removes by filter (members[value eq "a" or value eq "b"], as Okta removes one)
// are members it names, charged as members named in values are: 1,000 operations naming 2,000
// members, each a delete in one transaction, cost one request.
func TestMembersRemovedByFilterAreNamed(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h, _ = limitedHarness(t, h.st, nil)
		group := h.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Staff"})
		group.want(t, http.StatusCreated)
		ops := make([]any, 1000)
		for i := range ops {
			ops[i] = map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq "a%d" or value eq "b%d"]`, i, i)}
		}
		h.setRateLimit(1, 30)
		h.do("GET", "/Users?count=1", nil).want(t, http.StatusOK) // the bucket takes the new rate
		time.Sleep(1100 * time.Millisecond)                       // and is full again
		h.do("PATCH", "/Groups/"+group.body["id"].(string), map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": ops}).want(t, http.StatusNoContent)
		// 2,000 members cost 200: 27 at once beside the body's 3, the rest owed.
		if wait := retryAfter(t, h.do("GET", "/Users", nil)); wait < 150 {
			t.Fatalf("the next request is told to retry after %d seconds, want the 2,000 members' cost", wait)
		}
	})
}

// A replace of the group's members spelt with its schema (the schema as the path, or
// schema-qualified keys) removes the members it does not name as "replace members" does, and
// is charged as it is: the removals owed after it. It was admitted owing nothing.
func TestASchemaQualifiedReplaceOfMembersOwesItsRemovals(t *testing.T) {
	const group = "urn:ietf:params:scim:schemas:core:2.0:Group"
	for name, op := range map[string]string{
		"the schema as the path": `{"op":"replace","path":"` + group + `","value":{"members":[]}}`,
		"a qualified key":        `{"op":"replace","value":{"` + group + `:members":[]}}`,
		"the schema as a key":    `{"op":"replace","value":{"` + group + `":{"members":[]}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, h *harness) {
				h, _ = limitedHarness(t, h.st, nil)
				members := usersAsMembers(t, h, "schema", 400)
				created := h.do("POST", "/Groups", map[string]any{"schemas": []string{group}, "displayName": "Staff", "members": members})
				created.want(t, http.StatusCreated)
				id := created.body["id"].(string)
				h.setRateLimit(1, 30)
				h.do("GET", "/Users?count=1", nil).want(t, http.StatusOK) // the bucket takes the new rate, 29 left
				h.do("PATCH", "/Groups/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+op+`]}`).
					want(t, http.StatusNoContent)
				// 28 left, then the 400 members removed (40) owed: 12 seconds.
				if wait := retryAfter(t, h.do("GET", "/Users", nil)); wait < 10 || wait > 14 {
					t.Fatalf("the next request is told to retry after %d seconds, want about 12", wait)
				}
				h.setRateLimit(100000, 100000)
				h.do("GET", "/Users?count=1", nil) // the bucket takes the new rate (the debt may refuse it)
				time.Sleep(50 * time.Millisecond)  // and is paid off
				if got := h.do("GET", "/Groups/"+id, nil).want(t, http.StatusOK).body["members"]; got != nil {
					t.Fatalf("members left: %v", got)
				}
			})
		})
	}
}

// A body of unknown length (Transfer-Encoding: chunked) costs what it turns out to be, as a
// declared Content-Length is charged: it cost one request whatever its size.
func TestAChunkedBodyCostsItsSize(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h, _ = limitedHarness(t, h.st, nil)
		h.setRateLimit(1, 30)
		h.do("GET", "/Users?count=1", nil).want(t, http.StatusOK) // the bucket takes the new rate, 29 left
		body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"chunked@example.com","title":"` +
			strings.Repeat("t", 600<<10) + `"}`
		req, err := http.NewRequestWithContext(t.Context(), "POST", h.srv.URL+"/scim/v2/"+h.org+"/Users", io.MultiReader(bytes.NewReader([]byte(body))))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1 // sent chunked
		req.Header.Set("Authorization", "Bearer "+h.token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := h.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || len(resp.TransferEncoding) != 0 {
			t.Fatalf("status %d: the user is larger than a stored document may be", resp.StatusCode)
		}
		// 28 left, then about 19 owed for 600 KiB: the bucket holds about 9.
		for i := range 12 {
			if r := h.do("GET", "/Users?count=1", nil); r.status == http.StatusTooManyRequests {
				if i < 6 {
					t.Fatalf("refused after %d requests", i)
				}
				return
			}
		}
		t.Fatal("12 requests after a 600 KiB chunked body, and the 28 left of the burst still not spent")
	})
}

// Entra's value-path form is rewritten before parsing, its condition copied into each
// alternative: the rewritten filter is held to the limits too. A filter of 100 comparisons and
// 31 KB became one of 198 comparisons and about 3 MB.
func TestARewrittenFilterIsHeldToTheLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		types := make([]string, 50)
		for i := range types {
			types[i] = fmt.Sprintf(`type eq "t%d"`, i)
		}
		f := `emails[` + strings.Join(types, " or ") + `].value co "` + strings.Repeat("v", 30<<10) + `"`
		h.do("GET", "/Users?filter="+url.QueryEscape(f), nil).wantError(t, http.StatusBadRequest, "invalidFilter")
		// Alternatives without a comparison count as none in the raw text: 3,000 of them and a
		// 16 KiB condition made about 50 MB before anything was checked.
		bare := `emails[` + strings.TrimSuffix(strings.Repeat("x or ", 3000), " or ") + `].value eq "` + strings.Repeat("v", 16<<10) + `"`
		h.do("GET", "/Users?filter="+url.QueryEscape(bare), nil).wantError(t, http.StatusBadRequest, "invalidFilter")
		small := `emails[type eq "work" or type eq "home"].value co "x"`
		h.do("GET", "/Users?filter="+url.QueryEscape(small), nil).want(t, http.StatusOK)
	})
}
