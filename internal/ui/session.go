package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// A session is a signed cookie: who signed in with a Kubernetes token (never the token itself) as
// the TokenReview said, UID and extras included so writes impersonate the whole identity, and
// the CSRF token every form must echo. Admins behind an authenticating proxy, or with --local,
// are identified per request and use the cookie only for its CSRF token.
type session struct {
	User    string              `json:"u,omitempty"`
	UID     string              `json:"i,omitempty"`
	Groups  []string            `json:"g,omitempty"`
	Extra   map[string][]string `json:"x,omitempty"`
	CSRF    string              `json:"c"`
	Expires time.Time           `json:"e"`
	// Issued is when the user signed in, Seen when the session was last used, to the minute
	// (an idle session ends).
	Issued time.Time `json:"t,omitzero"`
	Seen   time.Time `json:"s,omitzero"`
	// OutSeen is the user's last sign-out as the store had it when the session began (Unix
	// microseconds, 0: none): a sign-out since, on any replica, changes it and ends the session.
	// Compared for equality, not by time, so replicas' clocks need not agree.
	OutSeen int64 `json:"o,omitempty"`
	// Epoch marks a session that carries OutSeen; one begun by an earlier release is compared
	// by time, as that release did, until it expires (8 hours), so an upgrade signs nobody out.
	Epoch bool `json:"oe,omitempty"`
}

// maxCookieValue keeps the session cookie under browsers' 4 KB limit (a dropped cookie would
// send the admin back to sign-in without a word).
const maxCookieValue = 3800

// sessionLifetime bounds a sign-in; the admin signs in again after it. sessionIdle ends a
// signed-in session unused for that long; seenEvery is how often a used session's cookie is
// written again to say so.
const (
	sessionLifetime = 8 * time.Hour
	sessionIdle     = 30 * time.Minute
	seenEvery       = time.Minute
)

// cookieName is __Host- prefixed when the cookie is Secure: the browser then refuses it from any
// other host or path, so a sibling subdomain cannot plant one.
func cookieName(secure bool) string {
	if secure {
		return "__Host-eio-session"
	}
	return "eio-session"
}

// secureRequest says whether cookies must be Secure: always, except plain HTTP to a loopback
// address (make run), where browsers would drop them.
func secureRequest(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip == nil || !ip.IsLoopback()
}

func (s *Server) sign(payload []byte) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// readSession returns the request's valid session, if any: signed, and neither expired nor idle.
func (s *Server) readSession(r *http.Request) (session, bool) {
	sess, ok := s.signedSession(r)
	if !ok {
		return session{}, false
	}
	now := time.Now()
	if now.After(sess.Expires) || sess.User != "" && now.Sub(sess.Seen) > sessionIdle {
		return session{}, false
	}
	return sess, true
}

// signedSession returns the request's session if this deployment signed it, however old: a
// sign-out must end the copies of an idle session too.
func (s *Server) signedSession(r *http.Request) (session, bool) {
	c, err := r.Cookie(cookieName(secureRequest(r)))
	if err != nil {
		return session{}, false
	}
	body, sig, found := strings.Cut(c.Value, ".")
	if !found {
		return session{}, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(body)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return session{}, false
	}
	mac := hmac.New(sha256.New, s.key)
	mac.Write(payload)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return session{}, false
	}
	var sess session
	if json.Unmarshal(payload, &sess) != nil || sess.CSRF == "" {
		return session{}, false
	}
	return sess, true
}

func (s *Server) writeSession(w http.ResponseWriter, r *http.Request, sess session) {
	payload, _ := json.Marshal(sess)
	secure := secureRequest(r)
	// Secure except over plain HTTP to loopback (secureRequest); HttpOnly and SameSite always.
	http.SetCookie(w, &http.Cookie{ //nolint:gosec // Secure is decided by secureRequest, see above
		Name: cookieName(secure), Value: s.sign(payload), Path: "/", Expires: sess.Expires,
		Secure: secure, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

func (s *Server) clearSession(w http.ResponseWriter, r *http.Request) {
	secure := secureRequest(r)
	http.SetCookie(w, &http.Cookie{Name: cookieName(secure), Value: "", Path: "/", MaxAge: -1, //nolint:gosec // as in writeSession
		Secure: secure, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ensureSession returns the request's session, starting an anonymous one (a CSRF token only)
// when there is none.
func (s *Server) ensureSession(w http.ResponseWriter, r *http.Request) session {
	if sess, ok := s.readSession(r); ok {
		return sess
	}
	sess := session{CSRF: randomToken(), Expires: time.Now().Add(sessionLifetime)}
	s.writeSession(w, r, sess)
	return sess
}

// identify returns who is calling: a Kubernetes bearer token, trusted proxy headers or --local
// (the admin API's ways), else the signed-in session.
func (s *Server) identify(r *http.Request) (service.Identity, bool, error) {
	who, ok, err := s.Auth.Authenticate(r)
	if err != nil || ok {
		return who, ok, err
	}
	if sess, found := s.readSession(r); found && sess.User != "" {
		// Only login writes a session with a user, from a TokenReview's answer.
		who := service.Identity{User: sess.User, UID: sess.UID, Groups: sess.Groups, Extra: sess.Extra, Source: service.Reviewed}
		out, err := s.Service.SignedOutAt(r.Context(), who)
		if err != nil {
			return service.Identity{}, false, err
		}
		if !out.IsZero() && (sess.Epoch && out.UnixMicro() != sess.OutSeen || !sess.Epoch && !out.Before(sess.Issued)) {
			return service.Identity{}, false, nil // signed out since, perhaps in another browser
		}
		return who, true, nil
	}
	return service.Identity{}, false, nil
}

// touch writes a signed-in session back with the time it was used, once a seenEvery, so that
// only an idle one ends after sessionIdle.
func (s *Server) touch(w http.ResponseWriter, r *http.Request, sess session) {
	if strings.HasSuffix(r.URL.Path, "/progress") {
		return // the page's own polling while a step waits; an admin away from it is idle
	}
	if now := time.Now(); sess.User != "" && now.Sub(sess.Seen) >= seenEvery {
		sess.Seen = now
		s.writeSession(w, r, sess)
	}
}

// validCSRF checks a form's csrf field against the session's token.
func (s *Server) validCSRF(r *http.Request) bool {
	sess, ok := s.readSession(r)
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(sess.CSRF)) == 1
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	sess := s.ensureSession(w, r)
	s.render(w, http.StatusOK, "login", &view{Title: "Sign in", CSRF: sess.CSRF})
}

// login exchanges a Kubernetes token for a session: the token is checked with a TokenReview and
// then forgotten; the session keeps only the user name and groups.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.validCSRF(r) {
		s.fail(w, r, http.StatusForbidden, "Your form expired; reload the page and try again.")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	who, ok, err := s.Auth.SignIn(r, token)
	if e := (*service.Error)(nil); errors.As(err, &e) { // a Kubernetes system identity
		sess := s.ensureSession(w, r)
		s.render(w, e.Status, "login", &view{Title: "Sign in", CSRF: sess.CSRF, Error: e.Message})
		return
	}
	if e := (*service.TooManySignIns)(nil); errors.As(err, &e) {
		sess := s.ensureSession(w, r)
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds()))
		s.render(w, http.StatusTooManyRequests, "login", &view{Title: "Sign in", CSRF: sess.CSRF, Error: e.Error()})
		return
	}
	if err != nil {
		s.Log.Error("TokenReview failed", "error", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not check your token; try again.")
		return
	}
	if !ok {
		sess := s.ensureSession(w, r)
		s.render(w, http.StatusUnauthorized, "login", &view{Title: "Sign in", CSRF: sess.CSRF,
			Error: "The Kubernetes API did not accept that token. Use a token of your own account, for example from kubectl create token."})
		return
	}
	out, err := s.Service.SignedOutAt(r.Context(), who)
	if err != nil {
		s.Log.Error("Reading the user's last sign-out", "error", err)
		s.fail(w, r, http.StatusInternalServerError, "Could not sign you in; try again.")
		return
	}
	now := time.Now()
	sess := session{User: who.User, UID: who.UID, Groups: who.Groups, Extra: who.Extra, CSRF: randomToken(),
		Expires: sessionExpiry(token, now), Issued: now, Seen: now, Epoch: true}
	if !out.IsZero() {
		sess.OutSeen = out.UnixMicro()
	}
	if payload, _ := json.Marshal(sess); len(s.sign(payload)) > maxCookieValue {
		s.fail(w, r, http.StatusRequestHeaderFieldsTooLarge, "Your account is in too many groups to fit a browser session; "+
			"sign in through your organization's authenticating proxy instead, or ask a platform admin.")
		return
	}
	s.writeSession(w, r, sess)
	seeOther(w, r, Path)
}

// logout ends the session, and every other session of its user (signedIn's identify refuses
// sessions begun before a sign-out: OutSeen). An idle or expired session may sign out too: its copies
// elsewhere may still be in use.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.signedSession(r)
	if !ok || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(sess.CSRF)) != 1 {
		s.fail(w, r, http.StatusForbidden, "Your form expired; reload the page and try again.")
		return
	}
	if sess.User != "" {
		// Every copy of the session ends, and the user's other sessions with it.
		who := service.Identity{User: sess.User, UID: sess.UID}
		if err := s.Service.SignOut(r.Context(), who, time.Now(), sessionLifetime); err != nil {
			s.Log.Error("Recording a sign-out", "error", err)
			s.fail(w, r, http.StatusInternalServerError, "Could not sign you out; try again.")
			return
		}
	}
	s.clearSession(w, r)
	seeOther(w, r, Path+"/login")
}
