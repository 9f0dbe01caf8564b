package scim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/z8z8/enterprise-identity-operator/internal/scim"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Request limits and fair sharing (issue 10, docs/decisions/0009-bounded-request-work.md).

func emailValues(n, from int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"value": fmt.Sprintf("user%05d@example.com", from+i), "type": "work"}
	}
	return out
}

func memberValues(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"value": id}
	}
	return out
}

// The request of issue 10: 20,000 distinct emails in one PATCH (409 KB) while another
// organization creates a user. It used to hold every organization's writes for about 69 s; it is
// now refused before any work, and the other organization's create completes beside it.
func TestBigPatchIsRefusedWhileAnotherOrganizationWrites(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("big", nil))
		var wg sync.WaitGroup
		var patched response
		wg.Go(func() {
			patched = h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "add", "path": "emails", "value": emailValues(20000, 0)}))
		})
		b := h.asB()
		created := b.do("POST", "/Users", newUser("neighbour", nil)).want(t, http.StatusCreated)
		wg.Wait()
		patched.wantError(t, http.StatusBadRequest, "tooMany")
		b.do("GET", "/Users/"+created.body["id"].(string), nil).want(t, http.StatusOK)
		if r := h.do("GET", "/Users/"+id, nil).want(t, http.StatusOK); r.body["emails"] != nil {
			t.Fatalf("the refused PATCH changed the user: %v", r.body["emails"])
		}
	})
}

// A PATCH's operations run outside the store's write path: while one organization's PATCH is
// held between reading the resource and applying its operations, another organization's create
// completes. When PATCH logic ran inside the store's transaction (on SQLite, on the committer
// goroutine every organization shares), the create waited for it and this test timed out.
func TestPatchIsPreparedOutsideTheSharedWritePath(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("held", nil))
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		scim.SetTestHookPrepared(func(org string) {
			if org == h.orgA {
				once.Do(func() { close(entered) })
				<-release
			}
		})
		t.Cleanup(func() { scim.SetTestHookPrepared(nil) })
		done := make(chan response, 1)
		go func() {
			done <- h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "add", "path": "emails", "value": emailValues(1000, 0)}))
		}()
		<-entered
		created := make(chan response, 1)
		go func() { created <- h.asB().do("POST", "/Users", newUser("neighbour", nil)) }()
		select {
		case r := <-created:
			r.want(t, http.StatusCreated)
		case <-time.After(30 * time.Second): // a deadlock guard, not a performance bound
			close(release)
			t.Fatal("organization B's create waited for organization A's PATCH")
		}
		select {
		case r := <-done:
			t.Fatalf("the held PATCH returned early: %s", r.raw)
		default:
		}
		close(release)
		r := (<-done).want(t, http.StatusOK)
		if emails, _ := r.body["emails"].([]any); len(emails) != 1000 {
			t.Fatalf("%d emails after the PATCH, want 1000", len(emails))
		}
	})
}

func TestRequestLimitsAnswerRFC7644Errors(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("limited", nil))
		group := h.do("POST", "/Groups", map[string]any{"displayName": "limited"}).want(t, http.StatusCreated).body["id"].(string)

		many := make([]map[string]any, 1001)
		for i := range many {
			many[i] = map[string]any{"op": "replace", "path": "title", "value": fmt.Sprint(i)}
		}
		h.do("PATCH", "/Users/"+id, patchOps(many...)).wantError(t, http.StatusBadRequest, "tooMany")
		h.do("PATCH", "/Users/"+id, patchOps(many[:1000]...)).want(t, http.StatusOK)

		// Values per multi-valued attribute: in one operation, across operations, in the result.
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "add", "path": "emails", "value": emailValues(1001, 0)})).
			wantError(t, http.StatusBadRequest, "tooMany")
		h.do("PATCH", "/Users/"+id, patchOps(
			map[string]any{"op": "add", "path": "emails", "value": emailValues(600, 0)},
			map[string]any{"op": "Add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:emails", "value": emailValues(600, 600)},
		)).wantError(t, http.StatusBadRequest, "tooMany")
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "add", "path": "emails", "value": emailValues(900, 0)})).want(t, http.StatusOK)
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "add", "path": "emails", "value": emailValues(200, 900)})).
			wantError(t, http.StatusBadRequest, "tooMany")
		// Values already present are not added again, so this stays at 1,000.
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "add", "path": "emails", "value": emailValues(200, 800)})).want(t, http.StatusOK)
		h.do("POST", "/Users", newUser("too-many-emails", map[string]any{"emails": emailValues(1001, 0)})).
			wantError(t, http.StatusBadRequest, "tooMany")
		h.do("POST", "/Users", newUser("many-emails", map[string]any{"emails": emailValues(1000, 0)})).want(t, http.StatusCreated)

		// Members per request: refused before the store looks the members up.
		ids := make([]string, 20001)
		for i := range ids {
			ids[i] = fmt.Sprintf("no-such-member-%05d", i)
		}
		h.do("POST", "/Groups", map[string]any{"displayName": "huge", "members": memberValues(ids)}).
			wantError(t, http.StatusBadRequest, "tooMany")
		h.do("PUT", "/Groups/"+group, map[string]any{"displayName": "limited", "members": memberValues(ids)}).
			wantError(t, http.StatusBadRequest, "tooMany")
		h.do("PATCH", "/Groups/"+group, patchOps(
			map[string]any{"op": "add", "path": "members", "value": memberValues(ids[:10001])},
			map[string]any{"op": "remove", "path": "members", "value": memberValues(ids[10001:])},
		)).wantError(t, http.StatusBadRequest, "tooMany")
		h.do("PATCH", "/Groups/"+group, patchOps(map[string]any{"op": "replace", "value": map[string]any{"members": memberValues(ids)}})).
			wantError(t, http.StatusBadRequest, "tooMany")

		// Filters: terms and nesting, in list requests, searches and PATCH paths.
		terms := make([]string, 101)
		for i := range terms {
			terms[i] = fmt.Sprintf(`userName eq "u%d"`, i)
		}
		h.do("GET", "/Users?filter="+url.QueryEscape(strings.Join(terms, " or ")), nil).wantError(t, http.StatusBadRequest, "invalidFilter")
		h.do("GET", "/Users?filter="+url.QueryEscape(strings.Join(terms[:100], " or ")), nil).want(t, http.StatusOK)
		h.do("POST", "/Users/.search", map[string]any{"filter": strings.Join(terms, " or ")}).wantError(t, http.StatusBadRequest, "invalidFilter")
		deep := strings.Repeat("(", 11) + `userName eq "x"` + strings.Repeat(")", 11)
		h.do("GET", "/Users?filter="+url.QueryEscape(deep), nil).wantError(t, http.StatusBadRequest, "invalidFilter")
		h.do("GET", "/Users?filter="+url.QueryEscape(deep[1:len(deep)-1]), nil).want(t, http.StatusOK)
		memberTerms := make([]string, 101)
		for i := range memberTerms {
			memberTerms[i] = fmt.Sprintf(`value eq "m%d"`, i)
		}
		h.do("PATCH", "/Groups/"+group, patchOps(map[string]any{"op": "remove", "path": "members[" + strings.Join(memberTerms, " or ") + "]"})).
			wantError(t, http.StatusBadRequest, "invalidPath")

		// The body: 413 with an RFC 7644 error body (RFC 7644 defines no scimType for it).
		huge := `{"userName":"` + strings.Repeat("x", 1<<20) + `"}`
		h.do("POST", "/Users", huge).wantError(t, http.StatusRequestEntityTooLarge, "")

		// What RFC 7643 §5 has fields for is advertised.
		spc := h.do("GET", "/ServiceProviderConfig", nil).want(t, http.StatusOK).body
		for path, want := range map[string]float64{"bulk.maxPayloadSize": 1 << 20, "bulk.maxOperations": 0, "filter.maxResults": 1000} {
			if got := get(spc, path); got != want {
				t.Errorf("ServiceProviderConfig %s = %v, want %v", path, got, want)
			}
		}
	})
}

// 20,000 distinct members in one PATCH (the most a request may name) are added, then half of
// them removed by value, without the pairwise comparisons that made this quadratic.
func TestGroupMemberAddAtTheLimit(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		const n = 20000
		ids := h.storeUsers(t, n)
		group := h.do("POST", "/Groups", map[string]any{"displayName": "everyone"}).want(t, http.StatusCreated).body["id"].(string)
		h.do("PATCH", "/Groups/"+group, patchOps(map[string]any{"op": "Add", "path": "members", "value": memberValues(ids)})).
			want(t, http.StatusNoContent)
		h.do("PATCH", "/Groups/"+group, patchOps(map[string]any{"op": "Remove", "path": "members", "value": memberValues(ids[:n/2])})).
			want(t, http.StatusNoContent)
		members, _, err := h.st.Members(context.Background(), h.org, []string{group}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(members[group]); got != n/2 {
			t.Fatalf("%d members, want %d", got, n/2)
		}
		if members[group][0].Value != ids[n/2] {
			t.Fatalf("first member %s, want %s", members[group][0].Value, ids[n/2])
		}
	})
}

// Concurrent PATCHes of one group without If-Match all succeed: each is prepared on a snapshot
// and written only if the group is still at that version, prepared again otherwise.
func TestConcurrentPatchesOfOneResourceAllApply(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ids := h.storeUsers(t, 16)
		group := h.do("POST", "/Groups", map[string]any{"displayName": "busy"}).want(t, http.StatusCreated).body["id"].(string)
		var wg sync.WaitGroup
		statuses := make([]int, len(ids))
		for i, id := range ids {
			wg.Go(func() {
				statuses[i] = h.do("PATCH", "/Groups/"+group, patchOps(map[string]any{"op": "add", "path": "members", "value": id})).status
			})
		}
		wg.Wait()
		for i, s := range statuses {
			if s != http.StatusNoContent {
				t.Fatalf("PATCH %d: status %d", i, s)
			}
		}
		members, _, err := h.st.Members(context.Background(), h.org, []string{group}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(members[group]) != len(ids) {
			t.Fatalf("%d members after %d concurrent adds", len(members[group]), len(ids))
		}
		// With If-Match, a stale version is still refused.
		h.do("PATCH", "/Groups/"+group, patchOps(map[string]any{"op": "add", "path": "members", "value": ids[0]}), "If-Match", `W/"1"`).
			wantError(t, http.StatusPreconditionFailed, "")
	})
}

// storeUsers creates n users of organization A directly in the store (ids u00000…, in order).
func (h *harness) storeUsers(t *testing.T, n int) []string {
	t.Helper()
	ids := make([]string, n)
	now := time.Now().UTC().Truncate(time.Microsecond)
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for range 32 {
		wg.Go(func() {
			for i := range work {
				name := fmt.Sprintf("member-%05d@example.com", i)
				r := &store.Resource{Org: h.orgA, Kind: store.KindUser, ID: fmt.Sprintf("u%05d", i), Name: name, Active: true,
					Doc: []byte(`{"userName":"` + name + `","active":true}`), Created: now, Modified: now, Version: 1}
				if err := h.st.Create(context.Background(), r, nil, store.Write{Binding: bindingOf(h.orgA)}); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
				}
			}
		})
	}
	for i := range ids {
		ids[i] = fmt.Sprintf("u%05d", i)
		work <- i
	}
	close(work)
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	return ids
}

// An error's detail may quote what the client sent. Neither the answer nor the audit event that
// records it grows with the request: an 800 KiB sortBy quoted with %q was a 2.4 MB answer, and
// as many bytes in the audit writer every organization shares and in the audit table.
func TestErrorDetailsQuotingTheRequestAreBounded(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h, srv := limitedHarness(t, h.st, nil)
		id := h.create(t, newUser("quoted", nil))
		refused := []response{
			h.do("POST", "/Users/.search", map[string]any{"sortBy": strings.Repeat("\u0080", 400<<10), "count": 1}),
			h.do("GET", "/Users?sortBy="+url.QueryEscape(strings.Repeat("é", 8<<10)), nil),
			h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": strings.Repeat("é", 15<<10) + "[", "value": "v"})),
		}
		for i, r := range refused {
			r.want(t, http.StatusBadRequest)
			detail, _ := r.body["detail"].(string)
			if len(detail) > store.MaxAuditDetail || !strings.HasSuffix(detail, "…") || !utf8.ValidString(detail) {
				t.Errorf("request %d: a detail of %d bytes, want at most %d ending in …: %.80s", i, len(detail), store.MaxAuditDetail, detail)
			}
		}
		srv.Close() // records what the audit writer holds
		events, err := h.st.AuditEvents(context.Background(), h.orgA, store.AuditQuery{Failed: true, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != len(refused) {
			t.Fatalf("%d refused requests recorded, want %d", len(events), len(refused))
		}
		for _, e := range events {
			if len(e.Detail) > store.MaxAuditDetail {
				t.Errorf("an audit event of %s records a detail of %d bytes", e.Action, len(e.Detail))
			}
		}
	})
}
