package ui

import (
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/adminapi"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

func newTestServer() *Server { return &Server{key: []byte("0123456789abcdef0123456789abcdef")} }

// sessionCookie writes sess as the server would and returns the cookie the browser gets.
func sessionCookie(t *testing.T, s *Server, r *http.Request, sess session) *http.Cookie {
	t.Helper()
	w := httptest.NewRecorder()
	s.writeSession(w, r, sess)
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("want one cookie, got %v", cookies)
	}
	return cookies[0]
}

func TestSessionCookieIsSignedAndExpires(t *testing.T) {
	s := newTestServer()
	r := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080/", nil)
	good := session{User: "alice", Groups: []string{"admins"}, CSRF: "c", Expires: time.Now().Add(time.Hour)}
	c := sessionCookie(t, s, r, good)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie flags: %+v", c)
	}

	read := func(c *http.Cookie) (session, bool) {
		req := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080/", nil)
		req.AddCookie(c)
		return s.readSession(req)
	}
	if got, ok := read(c); !ok || got.User != "alice" {
		t.Fatalf("a valid session was refused: %+v %v", got, ok)
	}

	// Changing who the session names, without the key, breaks the signature.
	body, sig, _ := strings.Cut(c.Value, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(body)
	forged := *c
	forged.Value = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "alice", "mallory", 1))) + "." + sig
	if _, ok := read(&forged); ok {
		t.Fatal("a tampered session was accepted")
	}
	other := &Server{key: []byte("another key, another deployment!")}
	req := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080/", nil)
	req.AddCookie(c)
	if _, ok := other.readSession(req); ok {
		t.Fatal("a session signed with another key was accepted")
	}

	expired := good
	expired.Expires = time.Now().Add(-time.Minute)
	if _, ok := read(sessionCookie(t, s, r, expired)); ok {
		t.Fatal("an expired session was accepted")
	}
}

func TestCookiesAreSecureExceptOnPlainLoopback(t *testing.T) {
	s := newTestServer()
	for url, secure := range map[string]bool{
		"http://127.0.0.1:8080/": false, "http://localhost:8080/": false, "http://[::1]:8080/": false,
		"http://wizard.example.com/": true, "http://10.0.0.5:8080/": true,
	} {
		r := httptest.NewRequestWithContext(t.Context(), "GET", url, nil)
		c := sessionCookie(t, s, r, session{CSRF: "c", Expires: time.Now().Add(time.Hour)})
		if c.Secure != secure || strings.HasPrefix(c.Name, "__Host-") != secure {
			t.Errorf("%s: Secure=%v name=%s, want secure=%v", url, c.Secure, c.Name, secure)
		}
	}
	r := httptest.NewRequestWithContext(t.Context(), "GET", "https://127.0.0.1:8443/", nil)
	r.TLS = &tls.ConnectionState{}
	if c := sessionCookie(t, s, r, session{CSRF: "c", Expires: time.Now().Add(time.Hour)}); !c.Secure {
		t.Error("a TLS request got an insecure cookie")
	}
}

// Replicas sharing a SessionKey accept each other's sessions (a load balancer may send the next
// request anywhere); without one, each process signs with its own random key.
func TestSessionKeySharedBetweenReplicas(t *testing.T) {
	key := []byte("a key of at least thirty-two bytes, from a Secret")
	a, b, lone := &Server{SessionKey: key}, &Server{SessionKey: key}, &Server{}
	for _, s := range []*Server{a, b, lone} {
		s.Routes(http.NewServeMux())
	}
	r := httptest.NewRequestWithContext(t.Context(), "GET", "http://wizard.example.com/", nil)
	c := sessionCookie(t, a, r, session{User: "alice", CSRF: "c", Expires: time.Now().Add(time.Hour)})
	for name, s := range map[string]*Server{"replica with the same key": b, "process with its own key": lone} {
		req := httptest.NewRequestWithContext(t.Context(), "GET", "http://wizard.example.com/", nil)
		req.AddCookie(c)
		_, ok := s.readSession(req)
		if want := s == b; ok != want {
			t.Errorf("%s: session accepted = %v, want %v", name, ok, want)
		}
	}
}

// A signed-in session keeps the TokenReview's whole identity, so the wizard's writes impersonate
// the UID and extras too, and it is the API server's word (Reviewed), not a proxy's.
func TestSessionKeepsTheReviewedIdentity(t *testing.T) {
	s := newTestServer()
	s.Auth = &adminapi.Server{}
	r := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080/", nil)
	extra := map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=1"}}
	c := sessionCookie(t, s, r, session{User: "system:serviceaccount:acme:auditor", UID: "u-2", Extra: extra,
		Groups: []string{"system:serviceaccounts"}, CSRF: "c", Expires: time.Now().Add(time.Hour)})
	req := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080/", nil)
	req.AddCookie(c)
	who, ok, err := s.identify(req)
	if err != nil || !ok || who.UID != "u-2" || !reflect.DeepEqual(who.Extra, extra) || who.Source != service.Reviewed {
		t.Fatalf("got %+v, %v, %v", who, ok, err)
	}
}
