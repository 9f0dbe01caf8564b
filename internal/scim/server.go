package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/clientaddr"
	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// maxBodyBytes bounds request bodies (advertised as bulk.maxPayloadSize); larger ones get 413.
const maxBodyBytes = 1 << 20

// Server serves SCIM 2.0 for every organization in the registry, under /scim/v2/{organization}/.
type Server struct {
	Store   store.Store
	Tenants *tenant.Registry
	Log     *slog.Logger
	// TrustedProxies are the networks of reverse proxies (an ingress controller) whose
	// X-Forwarded-For names the client: the source of per-source limits and refusal records.
	// Empty: the TCP peer is the source.
	TrustedProxies []netip.Prefix
	// RefusalsPerSecond and RefusalBurst bound refused requests per source address (ratelimit.go);
	// MaxSources bounds the sources tracked. Zero values take the defaults.
	RefusalsPerSecond float64
	RefusalBurst      int
	MaxSources        int
	// RefusalDelay holds the 429 of a source over its refusal budget for up to this long (at
	// most MaxTarpitted at once), so a flood's sender waits instead of costing the data plane
	// a request parse per round trip. Zero answers at once (tests); the operator sets
	// DefaultRefusalDelay.
	RefusalDelay time.Duration
	// NoOrganizationLabel leaves the organization label of the metrics empty, for installations
	// with very many organizations.
	NoOrganizationLabel bool
	// MaxMembersPerResponse bounds the group members one response carries (zero:
	// DefaultMaxMembersPerResponse). A page of groups is cut short before the group that would
	// pass it; a read of one group over it is 400, tooMany (memberships.go).
	MaxMembersPerResponse int

	initOnce  sync.Once
	limits    *limiters
	tarpit    chan struct{}
	tarpitted atomic.Uint64
	audit     auditLog
}

// init readies the server; Routes and Handler call it before any request can arrive.
func (s *Server) init() {
	s.initOnce.Do(func() {
		s.limits = newLimiters(s.RefusalsPerSecond, s.RefusalBurst, s.MaxSources)
		s.tarpit = make(chan struct{}, MaxTarpitted)
		s.audit.log = s.Log
	})
}

// Close records the audit events still queued (reads and refusals are written in batches). Call
// it once no more requests arrive and before the store closes.
func (s *Server) Close() { s.audit.close() }

// DroppedAuditEvents counts the audit events lost since the server started: dropped because the
// audit queue was full, or in a batch the store refused. For a metric or a status condition.
func (s *Server) DroppedAuditEvents() uint64 { return s.audit.dropped.Load() }

// TrackedSources is the number of source addresses with a refusal budget in memory (at most
// MaxSources).
func (s *Server) TrackedSources() int {
	s.init()
	return s.limits.sources.Len()
}

// Routes registers the SCIM routes on mux. Every route requires the organization's bearer token
// (discovery included, so no answer tells whether an organization exists).
func (s *Server) Routes(mux *http.ServeMux) {
	s.init()
	const base = "/scim/v2/{org}"
	// Discovery (RFC 7644 §4): GET only.
	mux.Handle(base+"/ServiceProviderConfig", s.authenticated(s.serviceProviderConfig))
	mux.Handle(base+"/ResourceTypes", s.authenticated(s.resourceTypes))
	mux.Handle(base+"/ResourceTypes/{id}", s.authenticated(s.resourceTypes))
	mux.Handle(base+"/Schemas", s.authenticated(s.schemas))
	mux.Handle(base+"/Schemas/{id}", s.authenticated(s.schemas))
	// Resources (RFC 7644 §3): Users and Groups.
	for _, rt := range schema.ResourceTypes {
		h := &resourceHandler{server: s, rt: rt, kind: store.Kind(rt.Name)}
		mux.Handle(base+rt.Endpoint, s.authenticated(h.collection))
		mux.Handle("POST "+base+rt.Endpoint+"/.search", s.authenticated(h.search))
		mux.Handle(base+rt.Endpoint+"/{id}", s.authenticated(h.item))
	}
	// What RFC 7644 defines and this service does not implement: 501 (§3.12), after
	// authentication like every answer about an organization.
	notImplemented := func(detail string) http.Handler {
		return s.authenticated(func(w http.ResponseWriter, _ *http.Request, _ *tenant.Caller) {
			writeError(w, &Error{Status: http.StatusNotImplemented, Detail: detail})
		})
	}
	me := notImplemented("The /Me alias (RFC 7644 §3.11) is not supported: address users as /Users/{id}")
	mux.Handle(base+"/Me", me)
	mux.Handle(base+"/Me/", me)
	mux.Handle(base+"/Bulk", notImplemented("Bulk operations (RFC 7644 §3.7) are not supported: bulk.supported is false in /ServiceProviderConfig"))
	root := notImplemented("Queries at the service provider root (RFC 7644 §3.4.2.1, §3.4.3) are not supported: query /Users or /Groups")
	mux.Handle(base, root)
	mux.Handle(base+"/{$}", root)
	mux.Handle(base+"/.search", root)
	// Anything else under an organization: a SCIM 404, after authentication.
	mux.Handle(base+"/", s.authenticated(func(w http.ResponseWriter, _ *http.Request, _ *tenant.Caller) {
		writeError(w, &Error{Status: http.StatusNotFound, Detail: "No such SCIM endpoint"})
	}))
}

type callerKey struct{}

// authenticated checks the bearer token against the organization named in the path. A wrong
// token, a missing one and an unknown organization all answer 401 alike; a disabled integration
// answers 403. An accepted request is then charged to its organization's rate limit.
func (s *Server) authenticated(next func(http.ResponseWriter, *http.Request, *tenant.Caller)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := r.PathValue("org")
		caller, err := s.Tenants.Authenticate(org, bearerToken(r))
		switch {
		case errors.Is(err, tenant.ErrUnbound):
			// The store binds the organization's data otherwise than this replica serves it
			// (tenant.BindingCheck): its view of Kubernetes lags. A retry meets it as it is.
			markAuthenticated(w)
			writeError(w, &Error{Status: http.StatusServiceUnavailable, Detail: "The organization is being deleted or moved; retry shortly"})
			return
		case errors.Is(err, tenant.ErrDisabled):
			s.countAuthFailure(org)
			s.refuse(w, r, org, &Error{Status: http.StatusForbidden, Detail: "SCIM provisioning is disabled for this organization"})
			return
		case err != nil:
			s.countAuthFailure(org)
			s.refuse(w, r, org, &Error{Status: http.StatusUnauthorized, Detail: "A valid bearer token for this organization is required"})
			return
		}
		markAuthenticated(w)
		if !s.charge(w, r, caller, requestCost(r)) {
			return
		}
		ctx := context.WithValue(r.Context(), callerKey{}, caller)
		if r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody {
			// A body of unknown length (chunked) was charged as none: what it turns out to be is
			// owed once read, as a declared length is charged at once.
			body := &countingBody{ReadCloser: r.Body}
			r.Body = body
			defer func() { s.limits.owe(caller.Organization, int(body.n/costUnit)) }()
		}
		next(w, r.WithContext(ctx), caller)
	})
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// charge takes cost from the caller's organization's rate limit; over it, it answers 429 (audited)
// and returns false.
func (s *Server) charge(w http.ResponseWriter, r *http.Request, caller *tenant.Caller, cost int) bool {
	if cost <= 0 {
		return true
	}
	wait, limited := s.limits.admit(caller.Organization, cost)
	return s.admitted(w, r, caller, wait, limited)
}

// admitted answers a request the rate limit refused (limited) with 429, audited, and says whether
// it goes on.
func (s *Server) admitted(w http.ResponseWriter, r *http.Request, caller *tenant.Caller, wait time.Duration, limited bool) bool {
	if !limited {
		return true
	}
	s.countRateLimited(caller.Organization.Name)
	refused := tooManyRequests(w, wait)
	e := requestAudit(r, caller, "request.throttled", "")
	e.Status, e.Detail = refused.Status, refused.Detail
	s.audit.refuse(s.Store, e, clientaddr.Source(r, s.TrustedProxies))
	writeError(w, refused)
	return false
}

// chargeMembers charges a write for the n group members it names (membersCost), after the charge
// for the request itself: together at most the organization's burst at once, so that a full
// bucket always takes the request (a group pushed with thousands of members waits, but is never
// refused for good). Once the write is done, settle owes what its members cost beyond that: the
// ones it named, or the memberships it changed when more (a replace removes members it does not
// name), whether it succeeded or not (a write refused for its last member, or whose client went
// away, held the store as long); the organization's next requests wait it out. A write that may
// owe (replaces says it may remove members it does not name) is admitted one at a time per
// organization, and none while the organization is in debt. Capped at the burst, a request
// naming 20,000 members cost 200 at the default limit, 2 seconds, and held SQLite's one writer,
// every organization's, for 1–4.4 s. settle is nil when the request was refused (answered 429).
func (s *Server) chargeMembers(w http.ResponseWriter, r *http.Request, caller *tenant.Caller, n int, replaces bool) (settle func(changed int)) {
	p := caller.Organization.Policy
	cost := membersCost(n, p)
	rl := caller.Organization.RateLimit
	now := cost
	if !rl.Unlimited() {
		now = max(min(cost, rl.Burst-requestCost(r)), 0)
	}
	if rl.Unlimited() || cost == now && !replaces {
		// Owes nothing after: it changes at most the members it names, paid for now.
		if !s.charge(w, r, caller, now) {
			return nil
		}
		return func(int) {}
	}
	wait, limited, owe := s.limits.admitOwing(caller.Organization, now)
	if !s.admitted(w, r, caller, wait, limited) {
		return nil
	}
	return func(changed int) { owe(max(cost, membersCost(changed, p))) }
}

// refuse answers a request refused before authentication succeeded, charged to its source: over
// the source's refusal budget the answer is 429 instead. Refusals are recorded, aggregated, for
// served organizations only (no rows for made-up names), and never with any token material.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, org string, refused *Error) {
	source := clientaddr.Source(r, s.TrustedProxies)
	action := "auth.refused"
	if wait, limited := s.limits.refuse(source); limited {
		refused, action = tooManyRequests(w, wait), "request.throttled"
		refusalsThrottled.Inc()
		s.hold(r, wait)
	}
	if binding, served := s.Tenants.ServedBinding(org); org != "" && served {
		e := requestAudit(r, nil, action, "")
		// Recorded under the binding served now, like its requests: fenced (store.AuditEvent.Binding).
		e.Org, e.Binding, e.Status, e.Detail = org, binding, refused.Status, refused.Detail
		s.audit.refuse(s.Store, e, source)
	}
	writeError(w, refused)
}

func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	tok = strings.TrimSpace(tok)
	// A token pasted with its scheme into a field that adds the scheme again.
	if inner, ok := strings.CutPrefix(tok, "Bearer "); ok {
		tok = strings.TrimSpace(inner)
	}
	return tok
}

// readBody decodes a JSON request body: application/scim+json or application/json (a missing
// Content-Type is tolerated), at most maxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/scim+json" && mt != "application/json") {
			return nil, &Error{Status: http.StatusUnsupportedMediaType, Detail: "Send application/scim+json or application/json"}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Detail: "The request body is larger than 1 MiB"}
	}
	if err != nil {
		return nil, badRequest(typeInvalidSyntax, "the request body could not be read")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil || out == nil {
		return nil, badRequest(typeInvalidSyntax, "the request body is not a JSON object")
	}
	// JSON writes a NUL only as \u0000. No store keeps it in text (PostgreSQL refuses it).
	if bytes.Contains(body, []byte(`\u0000`)) && holdsNUL(out) {
		return nil, badRequest(typeInvalidValue, "the request body contains a NUL character (\\u0000)")
	}
	return out, nil
}

// holdsNUL reports a NUL character in any string or key of a decoded JSON value.
func holdsNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || holdsNUL(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if holdsNUL(e) {
				return true
			}
		}
	}
	return false
}

// baseURL is the organization's SCIM base URL as the client reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host = strings.TrimSpace(strings.Split(h, ",")[0])
	}
	return scheme + "://" + host + "/scim/v2/" + r.PathValue("org")
}

func methodNotAllowed(w http.ResponseWriter, allowed string) {
	w.Header().Set("Allow", allowed)
	writeError(w, &Error{Status: http.StatusMethodNotAllowed, Detail: "Allowed methods: " + allowed})
}

// Handler is the SCIM server as an http.Handler: the routes, with trailing slashes ignored
// ("/Users/" is "/Users"). Every answer is an RFC 7644 message: a path outside
// /scim/v2/{organization} is a SCIM 404 (charged to its source like any refusal), and a panic is
// a SCIM 500 rather than a dropped connection.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Routes(mux)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.refuse(w, r, "", &Error{Status: http.StatusNotFound, Detail: "No such SCIM endpoint: SCIM is served under /scim/v2/{organization}"})
	}))
	return s.measured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer s.recoverPanic(w, r)
		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") && strings.Count(p, "/") > 4 {
			r.URL.Path = strings.TrimRight(p, "/")
		}
		mux.ServeHTTP(w, r)
	}))
}

func (s *Server) recoverPanic(w http.ResponseWriter, r *http.Request) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler { // net/http's way to abort a response: not a failure to report
		panic(v)
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.Error("SCIM request panicked", "method", r.Method, "path", truncateUTF8(r.URL.Path, maxAuditPath), "panic", v)
	writeError(w, &Error{Status: http.StatusInternalServerError, Detail: "Internal error; the service logged the cause"})
}

// DefaultRefusalDelay and MaxTarpitted bound the tarpit (RefusalDelay): a held request costs a
// goroutine and a connection, so at most MaxTarpitted are held; beyond that 429s go out at once.
const (
	DefaultRefusalDelay = time.Second
	MaxTarpitted        = 512
)

// hold delays the answer to a source over its refusal budget, up to RefusalDelay and never longer
// than it must wait anyway, while a slot is free.
func (s *Server) hold(r *http.Request, wait time.Duration) {
	delay := min(wait, s.RefusalDelay)
	if delay <= 0 {
		return
	}
	select {
	case s.tarpit <- struct{}{}:
	default:
		tarpitFull.Inc()
		return // full: answering at once beats holding without bound
	}
	defer func() { <-s.tarpit }()
	s.tarpitted.Add(1)
	tarpitted.Inc()
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// TarpittedRequests counts the refusals whose answer was held.
func (s *Server) TarpittedRequests() uint64 { return s.tarpitted.Load() }
