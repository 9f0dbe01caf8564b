package adminapi

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

func TestParseCIDRs(t *testing.T) {
	for in, want := range map[string]string{
		"":                                "",
		"127.0.0.1/32":                    "127.0.0.1/32",
		" 10.1.2.3/8 , fd00::1/64 ":       "10.0.0.0/8 fd00::/64",
		"::ffff:10.1.0.0/112":             "10.1.0.0/16",
		"10.0.0.1":                        "error",
		"0.0.0.0/0":                       "error",
		"::/0":                            "error",
		"127.0.0.1/32,not-a-network/8":    "error",
		"192.168.0.0/16,,192.168.1.0/24,": "192.168.0.0/16 192.168.1.0/24",
	} {
		got, err := ParseCIDRs(in)
		s := strings.Trim(fmt.Sprint(got), "[]")
		if err != nil {
			s = "error"
		}
		if s != want {
			t.Errorf("ParseCIDRs(%q) = %q (%v), want %q", in, s, err, want)
		}
	}
}

// Proxy headers are believed only from a TCP peer inside the trusted networks; what the request
// says about its origin (X-Forwarded-For) does not count.
func TestProxyHeadersOnlyFromTrustedPeers(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("fd00::/64")}
	for _, tc := range []struct {
		name    string
		trust   bool
		proxies []netip.Prefix
		peer    string
		headers map[string]string
		want    string // "user groups" or "" for not authenticated
	}{
		{name: "the proxy", trust: true, proxies: trusted, peer: "10.0.0.5:40000",
			headers: map[string]string{"X-Remote-User": "alice", "X-Remote-Group": "acme-admins, system:masters"},
			want:    "alice [acme-admins system:authenticated]"},
		{name: "the proxy over IPv6", trust: true, proxies: trusted, peer: "[fd00::7]:40000",
			headers: map[string]string{"X-Remote-User": "alice"}, want: "alice [system:authenticated]"},
		{name: "the proxy as an IPv4-mapped address", trust: true, proxies: trusted, peer: "[::ffff:10.0.0.5]:40000",
			headers: map[string]string{"X-Remote-User": "alice"}, want: "alice [system:authenticated]"},
		{name: "a tenant's Ingress", trust: true, proxies: trusted, peer: "10.0.0.6:40000",
			headers: map[string]string{"X-Remote-User": "alice", "X-Remote-Group": "acme-admins"}},
		{name: "a tenant claiming to be forwarded by the proxy", trust: true, proxies: trusted, peer: "10.9.9.9:40000",
			headers: map[string]string{"X-Remote-User": "alice", "X-Forwarded-For": "10.0.0.5", "X-Real-Ip": "10.0.0.5"}},
		{name: "headers trusted but no network configured", trust: true, peer: "10.0.0.5:40000",
			headers: map[string]string{"X-Remote-User": "alice"}},
		{name: "headers not trusted", proxies: trusted, peer: "10.0.0.5:40000", headers: map[string]string{"X-Remote-User": "alice"}},
		{name: "a system: user from the proxy", trust: true, proxies: trusted, peer: "10.0.0.5:40000",
			headers: map[string]string{"X-Remote-User": "system:admin"}},
		{name: "a malformed peer address", trust: true, proxies: trusted, peer: "somewhere",
			headers: map[string]string{"X-Remote-User": "alice"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{TrustProxyHeaders: tc.trust, TrustedProxies: tc.proxies}
			r := httptest.NewRequestWithContext(t.Context(), "GET", "/api/v1alpha1/organizations/acme/status", nil)
			r.RemoteAddr = tc.peer
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			who, ok, err := s.Authenticate(r)
			got := ""
			if ok {
				got = fmt.Sprint(who.User, " ", who.Groups)
				if who.Source != service.Asserted {
					t.Errorf("proxy identity with source %v", who.Source)
				}
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

// The same over real connections on loopback: the proxy at 127.0.0.2 is believed, a peer at
// 127.0.0.3 sending the same headers is not.
func TestProxyHeadersOverLoopback(t *testing.T) {
	s := &Server{TrustProxyHeaders: true, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, ok, _ := s.Authenticate(r)
		_, _ = fmt.Fprint(w, ok, " ", who.User)
	}))
	defer srv.Close()
	from := func(ip string) string {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
		req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL, nil)
		req.Header.Set("X-Remote-User", "alice")
		req.Header.Set("X-Forwarded-For", "127.0.0.2")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("from %s: %v", ip, err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := from("127.0.0.2"); got != "true alice" {
		t.Errorf("the trusted proxy: %q", got)
	}
	if got := from("127.0.0.3"); got != "false " {
		t.Errorf("an untrusted peer: %q", got)
	}
}
