package outbound_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
)

// server listens on ip (any loopback address works on Linux) and counts the connections it
// accepts, so a test can prove that a refused dial never reached it.
type server struct {
	*httptest.Server
	conns atomic.Int32
}

func listen(t *testing.T, ip string, h http.HandlerFunc) *server {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listening on %s: %v", ip, err)
	}
	s := &server{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Listener = l
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "secret internal content") }

func get(t *testing.T, c *http.Client, url string) (string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func blocked(t *testing.T, err error, wantAddr, wantRange string) {
	t.Helper()
	var b *outbound.BlockedError
	if !errors.As(err, &b) {
		t.Fatalf("want a BlockedError, got %v", err)
	}
	if b.Addr.String() != wantAddr || b.Range != wantRange {
		t.Fatalf("refused %s (%s), want %s (%s)", b.Addr, b.Range, wantAddr, wantRange)
	}
	if msg := err.Error(); !strings.Contains(msg, "--allow-outbound-cidrs") || strings.Contains(msg, "secret") {
		t.Fatalf("message %q should point at the flag and quote nothing fetched", msg)
	}
}

func prefixes(t *testing.T, list string) []netip.Prefix {
	t.Helper()
	p, err := outbound.ParsePrefixes(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Addresses outside loopback are only ever refused here: the dial is stopped before connect(2),
// so no packet leaves the machine.
func TestDialerRefusesBlockedAddresses(t *testing.T) {
	v4 := listen(t, "127.0.0.1", ok)
	v6 := listen(t, "::1", ok)
	_, v4port, _ := net.SplitHostPort(v4.Listener.Addr().String())
	_, v6port, _ := net.SplitHostPort(v6.Listener.Addr().String())
	client := outbound.NewClient(outbound.Options{Timeout: 2 * time.Second})

	cases := []struct {
		name, url, addr, rangeName string
	}{
		{"the cloud metadata service", "http://169.254.169.254/latest/meta-data/", "169.254.169.254", "link-local"},
		{"IPv4 loopback", "http://127.0.0.1:" + v4port + "/", "127.0.0.1", "loopback"},
		{"IPv6 loopback", "http://[::1]:" + v6port + "/", "::1", "loopback"},
		{"a private address", "http://10.0.0.1/", "10.0.0.1", "private"},
		// Go dials the mapped form over IPv4, so Control sees 127.0.0.1 (the guard unmaps either way).
		{"IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]:" + v4port + "/", "127.0.0.1", "loopback"},
		{"a hostname resolving to loopback", "http://localhost:" + v4port + "/", "127.0.0.1", "loopback"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, err := get(t, client, c.url)
			if err == nil {
				t.Fatalf("fetched %q", body)
			}
			blocked(t, err, c.addr, c.rangeName)
		})
	}
	if n := v4.conns.Load() + v6.conns.Load(); n != 0 {
		t.Fatalf("refused dials reached the servers %d time(s)", n)
	}
}

func TestAllowedPrefixesGetThrough(t *testing.T) {
	v4 := listen(t, "127.0.0.1", ok)
	v6 := listen(t, "::1", ok)
	cases := []struct{ name, allow, url string }{
		{"an IPv4 CIDR", "127.0.0.0/8", v4.URL},
		{"a bare IPv4 address", "127.0.0.1", v4.URL},
		{"an IPv6 address", "::1/128", v6.URL},
		{"an IPv4-mapped CIDR covers the IPv4 address", "::ffff:127.0.0.0/104", v4.URL},
		{"several, with spaces", "10.0.0.0/8, 127.0.0.1/32", v4.URL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := outbound.NewClient(outbound.Options{Allow: prefixes(t, c.allow), Timeout: 2 * time.Second})
			if body, err := get(t, client, c.url); err != nil || body != "secret internal content" {
				t.Fatalf("got %q, %v", body, err)
			}
		})
	}
	t.Run("loopback allows localhost", func(t *testing.T) {
		client := outbound.NewClient(outbound.Options{Allow: outbound.Loopback(), Timeout: 2 * time.Second})
		_, port, _ := net.SplitHostPort(v4.Listener.Addr().String())
		if _, err := get(t, client, "http://localhost:"+port+"/"); err != nil {
			t.Fatal(err)
		}
	})
}

// The first hop is allowed (127.0.0.2 only); its redirect to 127.0.0.1 is refused, which proves
// every connection is checked, not just the URL the caller passed.
func TestRedirectTargetsAreChecked(t *testing.T) {
	internal := listen(t, "127.0.0.1", ok)
	front := listen(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/self" {
			_, _ = io.WriteString(w, "same host")
			return
		}
		target := internal.URL
		if r.URL.Path == "/hop" {
			target = "/self"
		}
		http.Redirect(w, r, target, http.StatusFound)
	})
	client := outbound.NewClient(outbound.Options{Allow: prefixes(t, "127.0.0.2/32"), Timeout: 2 * time.Second})

	if body, err := get(t, client, front.URL+"/hop"); err != nil || body != "same host" {
		t.Fatalf("a redirect within the allowed host: %q, %v", body, err)
	}
	body, err := get(t, client, front.URL+"/")
	if err == nil {
		t.Fatalf("followed the redirect to %q", body)
	}
	blocked(t, err, "127.0.0.1", "loopback")
	if n := internal.conns.Load(); n != 0 {
		t.Fatalf("the redirect target was reached %d time(s)", n)
	}
}

func TestRedirectsAreBounded(t *testing.T) {
	var hops atomic.Int32
	loop := listen(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		hops.Add(1)
		http.Redirect(w, r, "/again", http.StatusFound)
	})
	client := outbound.NewClient(outbound.Options{Allow: outbound.Loopback(), Timeout: 2 * time.Second})
	if _, err := get(t, client, loop.URL); err == nil || !strings.Contains(err.Error(), "redirects") {
		t.Fatalf("want a redirect limit error, got %v", err)
	}
	if n := hops.Load(); n != outbound.MaxRedirects+1 {
		t.Fatalf("%d requests, want %d", n, outbound.MaxRedirects+1)
	}
}

// A proxy from the environment would do the connecting for us and the guard would see only the
// proxy's address; the client must ignore it.
func TestEnvironmentProxyIsIgnored(t *testing.T) {
	proxy := listen(t, "127.0.0.1", ok)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	client := outbound.NewClient(outbound.Options{Allow: outbound.Loopback(), Timeout: 2 * time.Second})
	_, err := get(t, client, "http://169.254.169.254/latest/meta-data/")
	blocked(t, err, "169.254.169.254", "link-local")
	if n := proxy.conns.Load(); n != 0 {
		t.Fatalf("the environment's proxy was used %d time(s)", n)
	}
}

func TestTimeoutBoundsTheRequest(t *testing.T) {
	slow := listen(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	client := outbound.NewClient(outbound.Options{Allow: outbound.Loopback(), Timeout: 200 * time.Millisecond})
	start := time.Now()
	if _, err := get(t, client, slow.URL); err == nil {
		t.Fatal("a slow server answered within the timeout")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s", d)
	}
}

func TestParsePrefixesRefusesGarbage(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.0/8,nope"} {
		if _, err := outbound.ParsePrefixes(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	if p, err := outbound.ParsePrefixes(""); err != nil || len(p) != 0 {
		t.Fatalf("empty list: %v, %v", p, err)
	}
}

func TestShownLeavesOutCredentials(t *testing.T) {
	for raw, want := range map[string]string{
		"https://user:secret@hooks.example.com/eio?token=secret#frag": "https://hooks.example.com/…",
		"http://receiver.apps.svc:8080/events":                        "http://receiver.apps.svc:8080/…",
		"https://hooks.example.com/a%2Fb?sig=secret":                  "https://hooks.example.com/…",
		"https://gw.example/src/SECRET123":                            "https://gw.example/…", // a gateway's secret in the path
		"https://hooks.example.com/":                                  "https://hooks.example.com",
		"https://hooks.example.com":                                   "https://hooks.example.com",
		"%zz":                                                         "",
	} {
		if got := outbound.Shown(raw); got != want {
			t.Errorf("Shown(%q) = %q, want %q", raw, got, want)
		}
	}
}
