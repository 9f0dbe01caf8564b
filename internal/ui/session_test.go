package ui

import (
	"crypto/tls"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/adminapi"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
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
	good := session{User: "alice", Groups: []string{"admins"}, CSRF: "c", Expires: time.Now().Add(time.Hour), Seen: time.Now()}
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
	idle := good
	idle.Seen = time.Now().Add(-sessionIdle - time.Minute)
	if _, ok := read(sessionCookie(t, s, r, idle)); ok {
		t.Fatal("a signed-in session unused for longer than sessionIdle was accepted")
	}
	anonymous := session{CSRF: "c", Expires: time.Now().Add(time.Hour)} // the sign-in form's
	if _, ok := read(sessionCookie(t, s, r, anonymous)); !ok {
		t.Fatal("a session without a user (the sign-in form's CSRF token) ended as idle")
	}
}

func TestCookiesAreSecureExceptOnPlainLoopback(t *testing.T) {
	s := newTestServer()
	for address, secure := range map[string]bool{
		"http://127.0.0.1:8080/": false, "http://localhost:8080/": false, "http://[::1]:8080/": false,
		"http://wizard.example.com/": true, "http://10.0.0.5:8080/": true,
	} {
		r := httptest.NewRequestWithContext(t.Context(), "GET", address, nil)
		c := sessionCookie(t, s, r, session{CSRF: "c", Expires: time.Now().Add(time.Hour)})
		if c.Secure != secure || strings.HasPrefix(c.Name, "__Host-") != secure {
			t.Errorf("%s: Secure=%v name=%s, want secure=%v", address, c.Secure, c.Name, secure)
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
	c := sessionCookie(t, a, r, session{User: "alice", CSRF: "c", Expires: time.Now().Add(time.Hour), Seen: time.Now()})
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
	s := newSignInServer(t)
	r := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080/", nil)
	extra := map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=1"}}
	c := sessionCookie(t, s, r, session{User: "system:serviceaccount:acme:auditor", UID: "u-2", Extra: extra,
		Groups: []string{"system:serviceaccounts"}, CSRF: "c", Expires: time.Now().Add(time.Hour), Issued: time.Now(), Seen: time.Now()})
	req := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080/", nil)
	req.AddCookie(c)
	who, ok, err := s.identify(req)
	if err != nil || !ok || who.UID != "u-2" || !reflect.DeepEqual(who.Extra, extra) || who.Source != service.Reviewed {
		t.Fatalf("got %+v, %v, %v", who, ok, err)
	}
}

// newSignInServer is a wizard server with a store (sign-outs) and the admin API's authentication.
func newSignInServer(t *testing.T) *Server {
	t.Helper()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	s := newTestServer()
	s.Auth, s.Service, s.Log = &adminapi.Server{}, &service.Service{Store: st}, slog.New(slog.DiscardHandler)
	return s
}

// Signing out ends every copy of the session (a cookie copied before, another browser of the
// same user), on every replica sharing the store: sessions are signed cookies, which the
// browser's cleared cookie alone does not revoke. A sign-in after it starts a session that works.
func TestASignOutEndsEveryCopyOfTheSession(t *testing.T) {
	s := newSignInServer(t)
	r := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080/", nil)
	issued := time.Now().Add(-time.Minute)
	sess := session{User: "alice", UID: "u-1", CSRF: "c", Expires: time.Now().Add(time.Hour), Issued: issued, Seen: time.Now()}
	copied := sessionCookie(t, s, r, sess)
	identify := func(c *http.Cookie) bool {
		req := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080/", nil)
		req.AddCookie(c)
		_, ok, err := s.identify(req)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !identify(copied) {
		t.Fatal("the session does not work before the sign-out")
	}

	form := url.Values{"csrf": {"c"}}
	logout := httptest.NewRequestWithContext(t.Context(), "POST", "http://127.0.0.1:8080"+Path+"/logout", strings.NewReader(form.Encode()))
	logout.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	logout.AddCookie(copied)
	w := httptest.NewRecorder()
	s.logout(w, logout)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("sign-out answered %d: %s", w.Code, w.Body)
	}
	if identify(copied) {
		t.Fatal("a copy of the session taken before the sign-out still works")
	}
	replica := newTestServer()
	replica.Auth, replica.Service = s.Auth, s.Service // another replica: its own process, the same store
	req := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080/", nil)
	req.AddCookie(copied)
	if _, ok, _ := replica.identify(req); ok {
		t.Fatal("another replica still accepts the session")
	}

	again := sess
	out, err := s.Service.SignedOutAt(t.Context(), service.Identity{User: "alice", UID: "u-1"})
	if err != nil {
		t.Fatal(err)
	}
	again.Issued, again.OutSeen, again.Epoch = time.Now(), out.UnixMicro(), true // as login writes it
	if !identify(sessionCookie(t, s, r, again)) {
		t.Fatal("a session issued after the sign-out does not work")
	}

	// A replica whose clock is two minutes behind records the next sign-out: it still ends the
	// session begun since, wherever it was begun.
	if err := s.Service.SignOut(t.Context(), service.Identity{User: "alice", UID: "u-1"}, time.Now().Add(-2*time.Minute), sessionLifetime); err != nil {
		t.Fatal(err)
	}
	if identify(sessionCookie(t, s, r, again)) {
		t.Fatal("a sign-out recorded by a replica whose clock is behind left the session working")
	}
	other := sess
	other.User, other.UID = "bob", "u-2"
	if !identify(sessionCookie(t, s, r, other)) {
		t.Fatal("alice's sign-out ended bob's session")
	}
}

// A session gone idle can still sign out, and its sign-out ends the copies still in use
// elsewhere (each refreshed by its own use). The page's own polling does not keep a session alive.
func TestAnIdleSessionSignsOutItsCopies(t *testing.T) {
	s := newSignInServer(t)
	r := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080/", nil)
	now := time.Now()
	sess := session{User: "alice", UID: "u-1", CSRF: "c", Expires: now.Add(time.Hour), Issued: now.Add(-time.Hour)}
	idle, used := sess, sess
	idle.Seen, used.Seen = now.Add(-sessionIdle-time.Minute), now
	form := url.Values{"csrf": {"c"}}
	logout := httptest.NewRequestWithContext(t.Context(), "POST", "http://127.0.0.1:8080"+Path+"/logout", strings.NewReader(form.Encode()))
	logout.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	logout.AddCookie(sessionCookie(t, s, r, idle))
	w := httptest.NewRecorder()
	s.logout(w, logout)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("an idle session's sign-out answered %d", w.Code)
	}
	req := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080/", nil)
	req.AddCookie(sessionCookie(t, s, r, used))
	if _, ok, err := s.identify(req); ok || err != nil {
		t.Fatalf("the copy in use survived the idle session's sign-out (%v)", err)
	}

	stale := used
	stale.Seen = now.Add(-2 * seenEvery)
	for path, refreshed := range map[string]bool{"/org/acme/progress": false, "/org/acme/members": true} {
		w := httptest.NewRecorder()
		s.touch(w, httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080"+Path+path, nil), stale)
		if got := len(w.Result().Cookies()) == 1; got != refreshed {
			t.Errorf("%s refreshed the session: %v, want %v", path, got, refreshed)
		}
	}
}

// A session ends when the token it was begun with expires, if that is before its own lifetime: a
// 10-minute token must not sign its holder in for 8 hours.
func TestASessionEndsWithItsToken(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	jwt := func(claims string) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte("signature"))
	}
	for name, c := range map[string]struct {
		token string
		want  time.Time
	}{
		"a 10-minute token":              {jwt(`{"exp":1800000600,"sub":"system:serviceaccount:acme:admin"}`), now.Add(10 * time.Minute)},
		"a token valid for days":         {jwt(`{"exp":1800900000}`), now.Add(sessionLifetime)},
		"a token without expiry":         {jwt(`{"sub":"static"}`), now.Add(sessionLifetime)},
		"not a JWT":                      {"a-static-token-0123456789", now.Add(sessionLifetime)},
		"a payload that is not JSON":     {"aGVhZA.bm90IGpzb24.c2ln", now.Add(sessionLifetime)},
		"an expiry that is not a number": {jwt(`{"exp":"soon"}`), now.Add(sessionLifetime)},
	} {
		if got := sessionExpiry(c.token, now); !got.Equal(c.want) {
			t.Errorf("%s: session ends %v, want %v", name, got, c.want)
		}
	}
}
