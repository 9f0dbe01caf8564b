package adminapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// Actions under an ambient identity (the proxy's, --local's) need the custom header and, when a
// browser says where the request comes from, the data plane's own origin; a bearer token needs
// only the latter.
func TestCrossSiteActions(t *testing.T) {
	s := &Server{TrustedOrigins: []string{"https://eio.example.com"}, Log: slog.New(slog.DiscardHandler)}
	s.Routes(http.NewServeMux())
	local := service.Identity{User: "local-admin", Groups: []string{"system:masters"}, Source: service.Local}
	proxy := service.Identity{User: "alice", Groups: []string{"system:authenticated"}}
	token := service.Identity{User: "alice", Source: service.Reviewed}
	for _, tc := range []struct {
		name    string
		method  string
		who     service.Identity
		headers map[string]string
		refused bool
	}{
		{name: "a form post from another site", who: local, headers: map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, refused: true},
		{name: "another site with the header (a preflight it cannot pass, or an old browser)", who: proxy, headers: map[string]string{
			RequestHeader: "1", "Origin": "https://evil.example"}, refused: true},
		{name: "a sibling subdomain", who: proxy, headers: map[string]string{RequestHeader: "1", "Sec-Fetch-Site": "same-site",
			"Origin": "https://tenant.eio.example.com"}, refused: true},
		{name: "an opaque origin (sandboxed frame)", who: proxy, headers: map[string]string{RequestHeader: "1", "Origin": "null"}, refused: true},
		{name: "a simple request without the header", who: proxy, headers: map[string]string{"Content-Type": "text/plain"}, refused: true},
		{name: "an empty header", who: local, headers: map[string]string{RequestHeader: " "}, refused: true},
		{name: "a script of the data plane's own origin", who: proxy, headers: map[string]string{
			RequestHeader: "1", "Origin": "http://eio.internal:8080", "Sec-Fetch-Site": "same-origin"}},
		{name: "the public origin behind a proxy that rewrote Host", who: proxy, headers: map[string]string{
			RequestHeader: "1", "Origin": "https://eio.example.com"}},
		{name: "curl with the header", who: local, headers: map[string]string{RequestHeader: "1"}},
		{name: "a bearer token without the header", who: token},
		{name: "a bearer token from another site", who: token, headers: map[string]string{"Origin": "https://evil.example"}, refused: true},
		{name: "a read from another site", method: "GET", who: proxy, headers: map[string]string{"Origin": "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "POST"
			}
			r := httptest.NewRequestWithContext(t.Context(), method, "http://eio.internal:8080/api/v1alpha1/organizations/acme/token/rotate", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if e := s.crossSite(r, tc.who); (e != nil) != tc.refused {
				t.Fatalf("refused=%v, want %v", e, tc.refused)
			}
		})
	}
}

// The refusal is a 403 in JSON, through the real routes, before any organization is looked up
// (the Server has no store, registry or API client here: reaching them would panic).
func TestCrossSiteRefusalOverHTTP(t *testing.T) {
	mux := http.NewServeMux()
	(&Server{LocalUser: &service.Identity{User: "local-admin", Groups: []string{"system:masters"}, Source: service.Local},
		Log: slog.New(slog.DiscardHandler)}).Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, path := range []string{"/token/rotate", "/token/reveal", "/deprovisioning/release", "/members/u1/approve", "/members/u1/reject"} {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/api/v1alpha1/organizations/acme"+path, strings.NewReader("a=b"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		var body map[string]any
		if resp.StatusCode != http.StatusForbidden || json.Unmarshal(b, &body) != nil || !strings.Contains(body["error"].(string), "Cross-site") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
}

// With --local every request is the admin, so a page on another site that gives its own name to
// the loopback address (DNS rebinding) would read and act as it, same-origin as far as the
// browser knows. Only requests addressed by a loopback name or address get the local admin;
// others, --external-url's host included, sign in as without --local.
func TestLocalAdminOnlyAtLoopbackNames(t *testing.T) {
	s := &Server{LocalUser: &service.Identity{User: "local-admin", Groups: []string{"system:masters"}, Source: service.Local},
		TrustedOrigins: []string{"https://eio.example.com"}, Log: slog.New(slog.DiscardHandler)}
	for host, local := range map[string]bool{
		"rebound.evil.example:8080": false,
		"rebound.evil.example":      false,
		"10.0.0.7:8080":             false,
		"eio.example.com":           false, // a tunnel's public name: anyone on the Internet
		"localhost.evil.example":    false,
		"":                          false,
		"127.0.0.1:8080":            true,
		"127.1.2.3":                 true,
		"[::1]:8080":                true,
		"[::ffff:127.0.0.1]:8080":   true,
		"localhost:8080":            true,
		"LOCALHOST.":                true,
		"app.localhost:8080":        true,
	} {
		r := httptest.NewRequestWithContext(t.Context(), "GET", "/api/v1alpha1/organizations/acme/status", nil)
		r.Host = host
		who, ok, err := s.identity(r)
		if ok != local || err != nil || ok && who.User != "local-admin" {
			t.Errorf("Host %q: %q %v %v, want local=%v", host, who.User, ok, err, local)
		}
	}

	// Over HTTP the answer is the usual 401, saying why, before any organization is looked at
	// (the Server has no store or registry here: reaching them would panic).
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/v1alpha1/organizations/acme/status", nil)
	req.Host = "rebound.evil.example:8080"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), "DNS rebinding") {
		t.Errorf("a rebound name: %d %s", resp.StatusCode, b)
	}
}
