package ui

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
	"github.com/z8z8/enterprise-identity-operator/internal/selftest"
)

// A base URL on an internal address is refused by the guarded self-test client without a
// request reaching it, and counts as unreachable, so the self-test falls back to the data
// plane's own address, which the local client does reach.
func TestSelfTestOfAnInternalBaseURLFallsBackToTheDataPlane(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	s := &Server{}
	s.Routes(http.NewServeMux()) // the default clients
	ctx := t.Context()

	steps := selftest.Run(ctx, s.SelfTestClient, srv.URL+"/scim/v2/acme", "token")
	if !unreachable(steps) || !strings.Contains(steps[0].Detail, "blocked range (loopback)") {
		t.Fatalf("want an unreachable first step naming the blocked range, got %+v", steps[0])
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the refused base URL was reached %d time(s)", n)
	}

	steps = selftest.Run(ctx, s.LocalClient, srv.URL+"/scim/v2/acme", "token")
	if unreachable(steps) || hits.Load() == 0 {
		t.Fatalf("the data plane's own address should be reached, got %+v", steps[0])
	}

	allowed := outbound.NewClient(outbound.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Timeout: 10 * time.Second})
	if steps = selftest.Run(ctx, allowed, srv.URL+"/scim/v2/acme", "token"); unreachable(steps) {
		t.Fatalf("an allowed range should be reached, got %+v", steps[0])
	}
}
