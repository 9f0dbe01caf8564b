// Package ui is the Enterprise Identity Setup wizard: server-rendered pages (html/template and a
// little plain JavaScript, embedded in the binary). It walks an admin through SSO, SCIM
// provisioning, credentials, connecting the identity provider, status and logs, and member
// review. Reads and actions go through the admin API's operations; CRs are written as the
// signed-in admin (impersonation), so Kubernetes RBAC decides and its audit log names the person.
package ui

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Path is where the wizard lives, as the product documentation says.
const Path = "/settings/enterprise/identity-setup"

// staticPath serves the stylesheet and script.
const staticPath = "/settings/enterprise/static/"

// Server serves the wizard.
type Server struct {
	// Service authorizes and does the work, as for the admin API.
	Service *service.Service
	// Auth authenticates requests as the admin API does (a Kubernetes token, a trusted proxy's
	// headers, --local's admin).
	Auth Authenticator
	// Client reads CRs from the manager's cache (what exists and its status).
	Client client.Client
	// Impersonate returns a client acting as the admin, for every write of a CR or Secret.
	Impersonate func(service.Identity) (client.Client, error)
	// SelfTestClient sends the compatibility self-test's requests to the organization's base URL,
	// which a tenant can steer (its Ingress host): it must refuse internal addresses
	// (internal/outbound). Nil: a guarded client that allows none.
	SelfTestClient *http.Client
	// LocalSCIMURL is the data plane's own address, tried when the public base URL cannot be
	// reached from inside; LocalClient sends those requests. The address is operator
	// configuration, usually loopback, so it needs no guard. Nil: a client without proxy or
	// redirects.
	LocalSCIMURL string
	LocalClient  *http.Client
	// SessionKey signs sessions; every replica needs the same one. Nil: a random key per process
	// (a restart then signs out whoever signed in with a token).
	SessionKey []byte
	Log        *slog.Logger

	key   []byte
	pages map[string]*template.Template
	// selfTests are the organizations whose self-test runs (selftest_guard.go).
	selfTests selfTestGuard
	// access keeps identities' RBAC answers for the organizations page (access_cache.go).
	access accessCache
}

// Routes registers the wizard's pages.
func (s *Server) Routes(mux *http.ServeMux) {
	s.key = s.SessionKey
	if len(s.key) == 0 {
		s.key = make([]byte, 32)
		_, _ = rand.Read(s.key)
	}
	s.pages = parsePages()
	if s.SelfTestClient == nil {
		s.SelfTestClient = outbound.NewClient(outbound.Options{Timeout: 10 * time.Second})
	}
	if s.LocalClient == nil {
		s.LocalClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	s.settingsRoutes(mux)
	static, _ := fs.Sub(staticFiles, "static")
	mux.Handle("GET "+staticPath, secured(http.StripPrefix(staticPath, http.FileServerFS(static))))

	mux.Handle("GET "+Path+"/login", s.public(s.loginPage))
	mux.Handle("POST "+Path+"/login", s.public(s.login))
	mux.Handle("POST "+Path+"/logout", s.public(s.logout))
	mux.Handle("GET "+Path, s.signedIn(s.organizations))
	mux.Handle("GET "+Path+"/new", s.signedIn(s.newOrganization))
	mux.Handle("POST "+Path+"/new", s.signedIn(s.createOrganization))

	org := Path + "/{namespace}/{name}"
	mux.Handle("GET "+org, s.signedIn(func(w http.ResponseWriter, r *http.Request, _ *view) {
		seeOther(w, r, r.URL.Path+"/sso")
	}))
	mux.Handle("GET "+org+"/progress", s.inOrganization(s.progress))
	mux.Handle("GET "+org+"/sso", s.inOrganization(s.ssoPage))
	mux.Handle("POST "+org+"/sso", s.inOrganization(s.saveSSO))
	mux.Handle("GET "+org+"/provisioning", s.inOrganization(s.provisioningPage))
	mux.Handle("POST "+org+"/provisioning", s.inOrganization(s.saveProvisioning))
	mux.Handle("GET "+org+"/credentials", s.inOrganization(s.credentialsPage))
	mux.Handle("POST "+org+"/credentials/reveal", s.inOrganization(s.revealToken))
	mux.Handle("POST "+org+"/credentials/rotate", s.inOrganization(s.rotateToken))
	mux.Handle("GET "+org+"/connect", s.inOrganization(s.connectPage))
	mux.Handle("POST "+org+"/connect/self-test", s.inOrganization(s.selfTest))
	mux.Handle("GET "+org+"/status", s.inOrganization(s.statusPage))
	mux.Handle("POST "+org+"/deprovisioning/release", s.inOrganization(s.release))
	mux.Handle("POST "+org+"/event-subscriptions/{subscription}/replay", s.inOrganization(s.replay))
	mux.Handle("GET "+org+"/members", s.inOrganization(s.membersPage))
	mux.Handle("GET "+org+"/members/{id}", s.inOrganization(s.memberPage))
	mux.Handle("POST "+org+"/members/{id}/{decision}", s.inOrganization(s.review))
	mux.Handle(Path+"/", secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "There is no such page in the wizard.")
	})))
}

// view is what every page renders: the common frame plus the page's own data.
type view struct {
	Title string
	User  string
	// SignedIn says the admin signed in on the form (a session), so signing out means something;
	// behind a proxy or with --local the identity comes with every request.
	SignedIn bool
	// Posted marks the answer to a form post: it does not poll and reload (that would post again).
	Posted bool
	// Waiting marks a page that waits for what its own redirect asked (a rotation) though the
	// operator's view of the organization may not show the request yet: it polls all the same.
	Waiting bool
	CSRF    string
	Error   string
	Notice  string
	// Step names the wizard step shown (for the step list); Org is the organization in hand.
	Step string
	Org  *organization
	Data any
}

// contentSecurityPolicy allows only the wizard's own scripts and styles, no framing, forms
// posting only here.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// secured sets the headers every page carries: a strict Content Security Policy (no inline
// script or style), no framing (clickjacking), no sniffing, no caching of admin data.
func secured(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses cross-site form posts (Sec-Fetch-Site / Origin), a first line in front
// of the per-session CSRF token.
var crossOrigin = http.NewCrossOriginProtection()

// public serves pages that need no sign-in (the login form).
func (s *Server) public(next http.HandlerFunc) http.Handler {
	return secured(crossOrigin.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && !s.readForm(w, r, maxPublicForm) {
			return
		}
		next(w, r)
	})))
}

// The wizard's forms are URL-encoded and small: a sign-in form holds a token, the largest form
// (SSO) inline SAML metadata. A body is read only up to these sizes, and only URL-encoded: Go
// would otherwise read a multipart form of 32 MiB of files into memory before the CSRF check,
// and a handful of such requests, which need no sign-in, would take a replica's memory.
const (
	maxPublicForm = 64 << 10
	maxForm       = 2 << 20
)

// readForm reads a posted form of at most limit bytes; false when it answered the request with
// why it could not.
func (s *Server) readForm(w http.ResponseWriter, r *http.Request, limit int64) bool {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		s.fail(w, r, http.StatusUnsupportedMediaType, "The wizard takes its own forms only; reload the page and try again.")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			s.fail(w, r, http.StatusRequestEntityTooLarge, "The form is larger than the wizard takes; shorten what you entered.")
		} else {
			s.fail(w, r, http.StatusBadRequest, "The form could not be read; reload the page and try again.")
		}
		return false
	}
	return true
}

type pageHandler func(w http.ResponseWriter, r *http.Request, v *view)

// signedIn serves a page to an identified admin (else the sign-in form), with the CSRF token
// checked on every form post.
func (s *Server) signedIn(next pageHandler) http.Handler {
	return secured(crossOrigin.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, ok, err := s.identify(r)
		if err != nil {
			s.refuseIdentity(w, r, err)
			return
		}
		if !ok {
			seeOther(w, r, Path+"/login")
			return
		}
		if r.Method == http.MethodPost && !s.readForm(w, r, maxForm) {
			return
		}
		if r.Method == http.MethodPost && !s.validCSRF(r) {
			s.fail(w, r, http.StatusForbidden, "Your form expired or did not come from this wizard; reload the page and try again.")
			return
		}
		sess := s.ensureSession(w, r)
		if sess.User != "" && sess.User == who.User {
			s.touch(w, r, sess)
		}
		r = r.WithContext(context.WithValue(r.Context(), identityKey{}, who))
		next(w, r, &view{User: who.User, CSRF: sess.CSRF, SignedIn: sess.User != "" && sess.User == who.User, Posted: r.Method == http.MethodPost})
	})))
}

// refuseIdentity answers a request whose caller could not be identified: a Kubernetes system
// identity, a TokenReview that failed (both *service.Error), or a source over its sign-in budget
// (429 with Retry-After, unlogged: one line per refused attempt would let a flood fill the logs).
// The error page does not authenticate the request again: that would be another TokenReview.
func (s *Server) refuseIdentity(w http.ResponseWriter, r *http.Request, err error) {
	r = r.WithContext(context.WithValue(r.Context(), identityKey{}, service.Identity{}))
	if e := (*service.TooManySignIns)(nil); errors.As(err, &e) {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds()))
		s.fail(w, r, http.StatusTooManyRequests, e.Error())
		return
	}
	if e := (*service.Error)(nil); errors.As(err, &e) {
		s.fail(w, r, e.Status, e.Message)
		return
	}
	s.Log.Error("Authenticating a wizard request", "error", err)
	s.fail(w, r, http.StatusInternalServerError, "Could not check who you are; try again.")
}

// identityKey carries the admin signedIn identified, so a page does not authenticate again
// (a TokenReview per call) for each check it makes.
type identityKey struct{}

// who is the identified admin of a request that passed signedIn.
func (s *Server) who(r *http.Request) service.Identity {
	if who, ok := r.Context().Value(identityKey{}).(service.Identity); ok {
		return who
	}
	who, _, _ := s.identify(r)
	return who
}

func (s *Server) render(w http.ResponseWriter, status int, page string, v *view) {
	t, ok := s.pages[page]
	if !ok {
		s.Log.Error("No such wizard page template", "page", page)
		http.Error(w, "Internal error", http.StatusInternalServerError)
		return
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.Log.Error("Rendering the wizard", "page", page, "error", err)
		http.Error(w, "Internal error; the service logged the cause", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// fail renders an error page in words a person can act on.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, message string) {
	v := &view{Title: http.StatusText(status), Error: message}
	if who := s.who(r); who.User != "" { // identified once per request (a TokenReview for a token)
		v.User = who.User
	}
	if sess, ok := s.readSession(r); ok {
		v.CSRF = sess.CSRF
	}
	s.render(w, status, "error", v)
}

// failWith renders an admin API refusal (its status and words) or an internal error.
func (s *Server) failWith(w http.ResponseWriter, r *http.Request, err error) {
	var e *service.Error
	if errors.As(err, &e) {
		s.fail(w, r, e.Status, e.Message)
		return
	}
	s.Log.Error("Wizard request failed", "error", err)
	s.fail(w, r, http.StatusInternalServerError, "Something went wrong; the service logged the cause. Try again.")
}

// ctx bounds the wizard's calls to the Kubernetes API.
func ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 15*time.Second)
}

// seeOther redirects after a form post (or to sign in) to a page of the wizard; the target is
// always one of the wizard's own paths, never taken from the request as a whole URL.
func seeOther(w http.ResponseWriter, r *http.Request, target string) {
	if !strings.HasPrefix(target, Path) || strings.HasPrefix(target, "//") {
		target = Path
	}
	http.Redirect(w, r, target, http.StatusSeeOther) //nolint:gosec // target is a path of the wizard, checked above
}

// asAdmin is a Kubernetes client acting as the signed-in admin (impersonation), for writes; on
// failure the error page is written and ok is false.
func (s *Server) asAdmin(w http.ResponseWriter, r *http.Request) (as client.Client, ok bool) {
	as, err := s.Impersonate(s.who(r))
	if err != nil {
		s.failWith(w, r, err)
		return nil, false
	}
	return as, true
}

// Authenticator identifies the caller of a request.
type Authenticator interface {
	Authenticate(r *http.Request) (service.Identity, bool, error)
	// SignIn checks a Kubernetes token typed into the sign-in form.
	SignIn(r *http.Request, token string) (service.Identity, bool, error)
}

// actor is who acts through a wizard request, for the audit log.
func actor(r *http.Request, who service.Identity) service.Actor {
	return service.Actor{Identity: who, Method: r.Method, Path: r.URL.Path}
}
