package scim_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/scim"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Abuse resistance (issue 10): refusals, rate limits and unknown endpoints, over real HTTP on
// loopback against real stores.

// limitedHarness is a harness whose SCIM server is configured by the test.
func limitedHarness(t *testing.T, st store.Store, configure func(*scim.Server)) (*harness, *scim.Server) {
	t.Helper()
	orgSeq++
	h := &harness{t: t, st: st, reg: tenant.NewRegistry(), client: &http.Client{}}
	h.orgA = "abuse-" + strconv.Itoa(orgSeq)
	h.orgB = h.orgA + "b"
	for org, tok := range map[string]string{h.orgA: tokenA, h.orgB: tokenB} {
		h.reg.Set(&tenant.Organization{Name: org, Enabled: true, Integration: types.NamespacedName{Namespace: "ns", Name: org},
			Credentials: []tenant.Credential{credential(tok)}, Policy: provisioning.DefaultPolicy})
	}
	h.reg.MarkListening(true)
	s := &scim.Server{Store: st, Tenants: h.reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if configure != nil {
		configure(s)
	}
	h.srv = httptest.NewServer(s.Handler())
	t.Cleanup(s.Close)
	t.Cleanup(h.srv.Close)
	h.org, h.token = h.orgA, tokenA
	return h, s
}

// setRateLimit changes organization A's rate limit.
func (h *harness) setRateLimit(perSecond float64, burst int) {
	h.reg.Set(&tenant.Organization{Name: h.orgA, Enabled: true, Integration: types.NamespacedName{Namespace: "ns", Name: h.orgA},
		Credentials: []tenant.Credential{credential(tokenA)}, Policy: provisioning.DefaultPolicy,
		RateLimit: tenant.RateLimit{RequestsPerSecond: perSecond, Burst: burst}})
}

// sqliteFileBytes is the size of a SQLite store's database and write-ahead log, after a
// checkpoint; ok is false for other stores.
func sqliteFileBytes(t *testing.T, st store.Store) (int64, bool) {
	t.Helper()
	s, ok := st.(*sqlstore.Store)
	if !ok {
		return 0, false
	}
	var file string
	if err := s.DB().QueryRowContext(context.Background(), `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil || file == "" {
		return 0, false // PostgreSQL, or an in-memory database
	}
	if _, err := s.DB().ExecContext(context.Background(), `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, f := range []string{file, file + "-wal"} {
		if fi, err := os.Stat(f); err == nil {
			total += fi.Size()
		}
	}
	return total, true
}

// Refused requests cost their sender nothing, so they must not cost the store much either:
// 10,000 requests with a wrong token and a 16 KiB path grow the database by less than 1 MB and
// add a handful of aggregated rows that still count every request (before: one row per request
// with the whole path, 19 MB for 300 requests of 60 KB).
func TestRefusedRequestsGrowTheStoreByAFixedAmount(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h, srv := limitedHarness(t, h.st, nil)
		before, isFile := sqliteFileBytes(t, h.st)
		long := "/Users/" + strings.Repeat("x", 16<<10)
		const requests, workers = 10000, 4
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{}
				for i := w; i < requests; i += workers {
					req, _ := http.NewRequestWithContext(context.Background(), "GET", h.srv.URL+"/scim/v2/"+h.orgA+long+strconv.Itoa(i), nil)
					req.Header.Set("Authorization", "Bearer wrong-token-"+strconv.Itoa(i))
					resp, err := client.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					mu.Lock()
					statuses[resp.StatusCode]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if statuses[401]+statuses[429] != requests {
			t.Fatalf("every request must be refused with 401 or 429: %v", statuses)
		}
		srv.Close() // records the aggregates
		events, err := h.st.AuditEvents(context.Background(), h.orgA, store.AuditQuery{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		counted := 0
		for _, e := range events {
			counted += e.Count
			if len(e.Path) > 256 || e.Source == "" || e.Status != 401 && e.Status != 429 {
				t.Fatalf("not a bounded refusal aggregate: %+v", e)
			}
		}
		// One row per status and minute from the one source; the run may straddle a minute.
		if len(events) > 4 || counted != requests {
			t.Fatalf("want at most 4 rows counting %d refusals, got %d rows counting %d", requests, len(events), counted)
		}
		if after, ok := sqliteFileBytes(t, h.st); isFile && ok {
			if grown := after - before; grown > 1<<20 {
				t.Fatalf("the database grew by %d bytes for %d refusals", grown, requests)
			}
			t.Logf("database %d → %d bytes after %d refusals (%v)", before, after, requests, statuses)
		}
	})
}

// Many sources refused in one minute share rows past the first few, so spoofed or rotating
// addresses cannot multiply rows either.
func TestRefusalsFromManySourcesShareRows(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h, srv := limitedHarness(t, h.st, func(s *scim.Server) { s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
		for i := range 100 {
			h.do("GET", "/Users", nil, "Authorization", "Bearer wrong", "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i)).wantError(t, 401, "")
		}
		srv.Close()
		events, err := h.st.AuditEvents(context.Background(), h.orgA, store.AuditQuery{Failed: true, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		counted, other := 0, 0
		for _, e := range events {
			counted += e.Count
			if e.Source == "other" {
				other += e.Count
			}
		}
		if counted != 100 || len(events) > 2*(8+1) || other == 0 {
			t.Fatalf("want ≤ 18 rows (8 sources and \"other\", per minute) counting 100, got %d rows counting %d (other %d)", len(events), counted, other)
		}
	})
}

// An organization over its limit gets 429 with Retry-After and an RFC 7644 error body; another
// organization is unaffected, and the identity provider's retry after the wait succeeds.
func TestOrganizationOverItsLimitGets429WithRetryAfter(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h, srv := limitedHarness(t, h.st, nil)
		h.setRateLimit(1, 3)
		for range 3 {
			h.do("GET", "/Users", nil).want(t, 200)
		}
		r := h.do("GET", "/Users", nil)
		r.wantError(t, 429, "")
		wait, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || wait < 1 {
			t.Fatalf("Retry-After %q: want whole seconds ≥ 1", r.header.Get("Retry-After"))
		}
		h.asB().do("GET", "/Users", nil).want(t, 200) // B has its own budget
		time.Sleep(time.Duration(wait) * time.Second)
		h.do("GET", "/Users", nil).want(t, 200)
		srv.Close()
		throttled, err := h.st.AuditEvents(context.Background(), h.orgA, store.AuditQuery{Action: "request.throttled"})
		if err != nil {
			t.Fatal(err)
		}
		if len(throttled) != 1 || throttled[0].Count != 1 || throttled[0].Status != 429 || throttled[0].TokenFingerprint == "" {
			t.Fatalf("want one throttled request recorded with its token's fingerprint: %+v", throttled)
		}
	})
}

// Refusals are limited per source: a source over its budget gets 429 (before any store work),
// the same source's valid requests still pass (identity providers share addresses, and behind an
// ingress everyone shares the controller's), and a flood from many sources keeps at most
// MaxSources budgets in memory.
func TestRefusalLimitsPerSourceStayBounded(t *testing.T) {
	st, err := sqlstore.OpenSQLite(context.Background(), t.TempDir()+"/identity.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h, srv := limitedHarness(t, st, func(s *scim.Server) {
		s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		s.RefusalsPerSecond, s.RefusalBurst, s.MaxSources = 0.001, 5, 100
	})
	from := func(addr string, tok string) response {
		return h.do("GET", "/Users", nil, "Authorization", "Bearer "+tok, "X-Forwarded-For", addr)
	}
	for range 5 {
		from("203.0.113.9", "wrong").wantError(t, 401, "")
	}
	r := from("203.0.113.9", "wrong")
	r.wantError(t, 429, "")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	from("203.0.113.9", tokenA).want(t, 200) // a valid token from the same address
	// A client cannot pick its source: the trusted proxy's entry is the rightmost.
	h.do("GET", "/Users", nil, "Authorization", "Bearer wrong", "X-Forwarded-For", "192.0.2.1, 203.0.113.9").wantError(t, 429, "")
	// Unknown endpoints outside any organization are refusals too.
	raw, _ := http.NewRequestWithContext(context.Background(), "GET", h.srv.URL+"/scim/v1/Users", nil)
	raw.Header.Set("X-Forwarded-For", "203.0.113.9")
	resp, err := h.client.Do(raw)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Fatalf("an exhausted source asking for an unknown endpoint: %d, want 429", resp.StatusCode)
	}
	for i := range 1000 {
		from(fmt.Sprintf("2001:db8:%x::1", i), "wrong").wantError(t, 401, "")
	}
	if n := srv.TrackedSources(); n > 100 {
		t.Fatalf("%d source budgets kept; the bound is 100", n)
	}
	// IPv6 addresses of one /64 share a budget.
	for i := range 6 {
		r = from(fmt.Sprintf("2001:db8:ffff:1::%x", i+1), "wrong")
	}
	r.wantError(t, 429, "")
}

// Every answer is an RFC 7644 message: endpoints RFC 7644 defines but this service does not
// implement are 501, unknown paths 404 and wrong methods 405, with SCIM error bodies, and all of
// them only after authentication.
func TestUnknownEndpointsAndMethodsGetSCIMErrors(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		for _, c := range []struct {
			method, path string
			status       int
		}{
			{"GET", "/Me", 501},
			{"PATCH", "/Me", 501},
			{"GET", "/Me/groups", 501},
			{"POST", "/Bulk", 501},
			{"GET", "", 501},
			{"GET", "/", 501},
			{"POST", "/.search", 501},
			{"GET", "/Nope", 404},
			{"GET", "/Users/x/y", 404},
			{"DELETE", "/Users", 405},
			{"PUT", "/Groups", 405},
			{"POST", "/Users/abc", 405},
			{"PATCH", "/ServiceProviderConfig", 405},
			{"DELETE", "/Schemas", 405},
		} {
			r := h.do(c.method, c.path, nil)
			r.wantError(t, c.status, "")
			if c.status == 405 && r.header.Get("Allow") == "" {
				t.Fatalf("%s %s: 405 without Allow", c.method, c.path)
			}
			h.do(c.method, c.path, nil, "Authorization", "").wantError(t, 401, "")
		}
		for _, path := range []string{"/scim/v2", "/scim/v2/", "/scim/v1/Users", "/scim/"} {
			req, _ := http.NewRequestWithContext(context.Background(), "GET", h.srv.URL+path, nil)
			resp, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/scim+json") ||
				!strings.Contains(string(body), "urn:ietf:params:scim:api:messages:2.0:Error") {
				t.Fatalf("%s: %d %q %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
		}
	})
}

// The store's refusal aggregates add up when recorded again under the same key.
func TestRefusalAggregatesAddUp(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		e := store.AuditEvent{Org: h.orgA, Time: time.Now().UTC(), RequestID: "r1", Action: "auth.refused", Method: "GET",
			Path: "/scim/v2/x", Status: 401, Count: 3, Source: "192.0.2.1", Binding: bindingOf(h.orgA)}
		for range 2 {
			if err := h.st.RecordRefusals(ctx, []store.Refusal{{Key: "401 192.0.2.1 1", Event: e}}); err != nil {
				t.Fatal(err)
			}
		}
		events, err := h.st.AuditEvents(ctx, h.orgA, store.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 1 || events[0].Count != 6 || events[0].Source != "192.0.2.1" {
			t.Fatalf("want one row counting 6: %+v", events)
		}
		if err := h.st.RecordAudit(ctx, []store.AuditEvent{{Org: h.orgA, RequestID: "r2", Action: "user.read", Status: 200, Binding: bindingOf(h.orgA)}}); err != nil {
			t.Fatal(err)
		}
		events, _ = h.st.AuditEvents(ctx, h.orgA, store.AuditQuery{Limit: 1})
		if events[0].Count != 1 {
			t.Fatalf("an ordinary event counts 1: %+v", events[0])
		}
	})
}

// Filters over a limit are refused before parsing with a 400 invalidFilter that names the limit.
func TestFiltersOverTheirLimitsAreRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		long := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
			"filter": `userName eq "` + strings.Repeat("x", 40<<10) + `"`}
		r := h.do("POST", "/Users/.search", long)
		r.wantError(t, 400, "invalidFilter")
		if !strings.Contains(r.raw, "bytes") {
			t.Fatalf("the detail must name the length limit: %s", r.raw)
		}
		many := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
			"filter": strings.TrimSuffix(strings.Repeat(`userName eq "a" or `, 101), " or ")}
		h.do("POST", "/Users/.search", many).wantError(t, 400, "invalidFilter")
		deep := strings.Repeat("(", 11) + `userName eq "a"` + strings.Repeat(")", 11)
		h.do("POST", "/Users/.search", map[string]any{"filter": deep}).wantError(t, 400, "invalidFilter")
		h.do("POST", "/Users/.search", map[string]any{"filter": strings.Repeat("(", 10) + `userName eq "a"` + strings.Repeat(")", 10)}).want(t, 200)
	})
}

// A source over its refusal budget has its 429s held (the tarpit), so a flood's sender waits
// rather than costing a request parse per round trip; valid tokens from the same address are
// never held.
func TestRefusalsOverBudgetAreHeld(t *testing.T) {
	st, err := sqlstore.OpenSQLite(context.Background(), t.TempDir()+"/identity.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h, srv := limitedHarness(t, st, func(s *scim.Server) {
		s.RefusalsPerSecond, s.RefusalBurst, s.RefusalDelay = 0.001, 2, 20*time.Millisecond
	})
	for range 2 {
		h.do("GET", "/Users", nil, "Authorization", "Bearer wrong").wantError(t, 401, "")
	}
	if n := srv.TarpittedRequests(); n != 0 {
		t.Fatalf("%d refusals within the budget were held", n)
	}
	for range 3 {
		h.do("GET", "/Users", nil, "Authorization", "Bearer wrong").wantError(t, 429, "")
	}
	h.do("GET", "/Users", nil, "Authorization", "Bearer "+tokenA).want(t, 200)
	if n := srv.TarpittedRequests(); n != 3 {
		t.Fatalf("%d of 3 refusals over the budget were held", n)
	}
}

// usersAsMembers creates n users of organization A (under a high rate limit) and returns them as
// group members.
func usersAsMembers(t *testing.T, h *harness, prefix string, n int) []map[string]any {
	t.Helper()
	h.setRateLimit(100000, 100000)
	var members []map[string]any
	for i := range n {
		u := h.do("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
			"userName": fmt.Sprintf("%s-%d@example.com", prefix, i)})
		u.want(t, 201)
		members = append(members, map[string]any{"value": u.body["id"]})
	}
	return members
}

// retryAfter is the whole seconds a 429 asks to wait.
func retryAfter(t *testing.T, r response) int {
	t.Helper()
	r.wantError(t, 429, "")
	wait, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	return wait
}

// What the members a write changes cost beyond what its burst paid for is owed: the
// organization's next requests wait it out, longer under role mappings (a membership then also
// changes a role, with its event). Capped at the burst, one push of 20,000 members every two
// seconds at the default limit held SQLite's writer, every organization's, all the time.
func TestGroupMembersBeyondTheBurstAreOwed(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h, _ = limitedHarness(t, h.st, nil)
		members := usersAsMembers(t, h, "owed", 400)
		for _, c := range []struct {
			name  string
			roles []provisioning.GroupRole
			// 400 members cost 40 (133 under role mappings): 29 at once, the rest owed at 1 a second.
			atLeast, atMost int
		}{{"without role mappings", nil, 10, 14}, {"with role mappings", []provisioning.GroupRole{{Group: "Admins", Role: "admin"}}, 103, 107}} {
			t.Run(c.name, func(t *testing.T) {
				h.setRateLimit(100000, 100000)
				h.do("GET", "/Users?count=1", nil) // the bucket takes the new rate (the last case's debt may refuse it)
				time.Sleep(50 * time.Millisecond)  // and is paid off
				org, _ := h.reg.Organization(h.orgA)
				org.Policy = provisioning.DefaultPolicy
				org.Policy.GroupRoles = c.roles
				h.reg.Set(&org)
				group := h.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
					"displayName": "Staff " + c.name})
				group.want(t, 201)
				path := "/Groups/" + group.body["id"].(string)
				put := func(members []map[string]any) response {
					return h.do("PUT", path, map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
						"displayName": "Staff " + c.name, "members": members})
				}
				org, _ = h.reg.Organization(h.orgA)
				org.RateLimit = tenant.RateLimit{RequestsPerSecond: 1, Burst: 30} // from the next request on
				h.reg.Set(&org)
				put(members).want(t, 200) // 1 and 29 at once, owing the rest
				if wait := retryAfter(t, h.do("GET", "/Users", nil)); wait < c.atLeast || wait > c.atMost {
					t.Fatalf("the next request is told to retry after %d seconds, want %d–%d", wait, c.atLeast, c.atMost)
				}
			})
		}
	})
}

// An organization in debt is refused, whatever its burst: with a burst of one, a request's own
// cost goes at authentication, and a request naming members was admitted owing nothing at all.
func TestAnOrganizationInDebtIsRefusedWhateverItsBurst(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h, _ = limitedHarness(t, h.st, nil)
		members := usersAsMembers(t, h, "debt", 400)
		group := h.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Staff"})
		group.want(t, 201)
		h.setRateLimit(1, 1)
		time.Sleep(1100 * time.Millisecond) // a token
		// Refused for its last member, after the store wrote (and rolled back) the others: it owes
		// them as a write that succeeded would.
		unknown := append(slices.Clone(members[1:]), map[string]any{"value": "nobody"})
		h.do("PUT", "/Groups/"+group.body["id"].(string), map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Staff", "members": unknown}).want(t, 400) // admitted with nothing at once, then owing 40
		if wait := retryAfter(t, h.do("GET", "/Users", nil)); wait < 38 {
			t.Fatalf("the next request is told to retry after %d seconds, want the 40 owed", wait)
		}
	})
}

// Members a write removes without naming them (a PATCH removing a group's members, a PUT
// replacing them) are owed after it.
func TestMembersAWriteRemovesAreOwedAfterIt(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h, _ = limitedHarness(t, h.st, nil)
		members := usersAsMembers(t, h, "removed", 400)
		group := h.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": "Staff", "members": members})
		group.want(t, 201)
		h.setRateLimit(1, 30)
		h.do("GET", "/Users?count=1", nil).want(t, 200) // the bucket takes the new rate, 29 left
		h.do("PATCH", "/Groups/"+group.body["id"].(string), `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"remove","path":"members"}]}`).want(t, 204)
		// 28 left, then the 400 members removed (40) owed: 12 seconds.
		if wait := retryAfter(t, h.do("GET", "/Users", nil)); wait < 10 || wait > 14 {
			t.Fatalf("the next request is told to retry after %d seconds, want about 12", wait)
		}
	})
}

// A request naming many group members costs its organization's rate limit by the members too:
// one PATCH of 200 members is 21 requests' worth, where its size alone made it one. Adding one
// member, as Entra and Okta do, costs what any request does.
func TestGroupMembersAreChargedToTheRateLimit(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h, _ = limitedHarness(t, h.st, nil)
		h.setRateLimit(0.001, 30)
		var members []string
		for i := range 200 {
			members = append(members, fmt.Sprintf(`{"value":"nobody-%d"}`, i))
		}
		many := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[` +
			strings.Join(members, ",") + `]}]}`
		group := h.do("POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Staff"})
		group.want(t, 201)
		path := "/Groups/" + group.body["id"].(string)
		// 30: the group's create 1, then 21 for 200 members (refused: none of them exists), 8 left.
		h.do("PATCH", path, many).want(t, 400)
		r := h.do("PATCH", path, many)
		r.wantError(t, 429, "")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		one := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"nobody"}]}]}`
		h.do("PATCH", path, one).want(t, 400) // 1 of what is left

		// A group pushed with more members than the burst pays for is never refused for good: a
		// full bucket takes it (1 for the request, at most 29 for its 400 members).
		h.setRateLimit(1000, 30)
		h.do("GET", "/Users", nil).want(t, 200) // the bucket takes the new rate (at its next request)
		time.Sleep(50 * time.Millisecond)       // and fills
		var pushed []map[string]any
		for i := range 400 {
			pushed = append(pushed, map[string]any{"value": fmt.Sprintf("nobody-%d", i)})
		}
		h.do("PUT", path, map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": "Staff",
			"members": pushed}).want(t, 400) // charged, then refused for its unknown members
	})
}
