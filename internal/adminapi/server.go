// Package adminapi is the JSON API admins use to see and act on an organization's provisioning:
// status, members and their records, reviews, the audit log, the token. It authenticates HTTP
// requests (a Kubernetes bearer token, a trusted proxy's headers, --local's admin), refuses
// cross-site actions, and translates routes to internal/service, which authorizes with
// Kubernetes RBAC and does the work; errors are answered in one place (writeFailure).
package adminapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/clientaddr"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Server serves /api/v1alpha1/organizations/{organization}/….
type Server struct {
	Service *service.Service
	// TrustProxyHeaders accepts X-Remote-User and X-Remote-Group from an authenticating proxy
	// (oauth2-proxy and the like) in front of the data plane, when the TCP peer is inside one of
	// TrustedProxies (none: the headers are never believed).
	TrustProxyHeaders bool
	TrustedProxies    []netip.Prefix
	// ForwardedFor are the reverse proxies (the ingress controller, --forwarded-for-cidrs) whose
	// X-Forwarded-For names the client a failed sign-in is charged to; none: the TCP peer.
	ForwardedFor []netip.Prefix
	// TrustedOrigins are origins (scheme://host[:port]) besides the request's own Host from which
	// browsers may send actions: the public --external-url.
	TrustedOrigins []string
	// LocalUser, when set (--local), is the identity of requests that carry none: the local
	// kubeconfig's user (Source Local, so its system:masters is impersonated, with --local only).
	LocalUser *service.Identity
	Log       *slog.Logger

	origins *http.CrossOriginProtection
	pages   pageWrites
}

// Routes registers the admin API. Every route authenticates the caller and authorizes them
// against the organization's namespace; "read" routes need get, "action" routes need update.
func (s *Server) Routes(mux *http.ServeMux) {
	var errs []error
	s.origins, errs = newOriginCheck(s.TrustedOrigins)
	for _, err := range errs {
		s.Log.Error("Ignoring a trusted origin", "error", err)
	}
	const base = "/api/v1alpha1/organizations/{org}"
	mux.Handle("GET "+base+"/status", s.authorized("get", s.status))
	mux.Handle("GET "+base+"/members", s.authorized("get", s.members))
	mux.Handle("GET "+base+"/members/{id}", s.authorized("get", s.member))
	mux.Handle("POST "+base+"/members/{id}/approve", s.authorized("update", s.review(true)))
	mux.Handle("POST "+base+"/members/{id}/reject", s.authorized("update", s.review(false)))
	mux.Handle("GET "+base+"/audit-events", s.authorized("get", s.auditEvents))
	mux.Handle("POST "+base+"/deprovisioning/release", s.authorized("update", s.releaseDeprovisions))
	// Revealing needs the right to read the token Secret itself (checked in the handler).
	mux.Handle("POST "+base+"/token/reveal", s.authorized("get", s.revealToken))
	mux.Handle("POST "+base+"/token/rotate", s.authorized("update", s.rotateToken))
	mux.Handle("GET "+base+"/events", s.authorized("get", s.events))
	mux.Handle("GET "+base+"/event-subscriptions/{name}/dead-letters", s.authorized("get", s.deadLetters))
	mux.Handle("POST "+base+"/event-subscriptions/{name}/replay", s.authorized("update", s.replay))
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "No such admin API endpoint")
	}))
}

type handler func(w http.ResponseWriter, r *http.Request, org *tenant.Organization, who service.Actor)

func (s *Server) authorized(verb string, next handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, ok, err := s.identity(r)
		if e := (*service.Error)(nil); errors.As(err, &e) {
			writeFailure(w, e)
			return
		}
		if e := (*service.TooManySignIns)(nil); errors.As(err, &e) {
			w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds()))
			writeError(w, http.StatusTooManyRequests, e.Error())
			return
		}
		if err != nil {
			s.Log.Error("TokenReview failed", "error", err)
			writeError(w, http.StatusInternalServerError, "Could not check your token; try again")
			return
		}
		if !ok {
			writeError(w, http.StatusUnauthorized, "Sign in first: no authenticated user reached the admin API"+s.notLocalHint(r))
			return
		}
		// Before the organization is looked at: the refusal says nothing about it.
		if e := s.crossSite(r, who); e != nil {
			writeFailure(w, e)
			return
		}
		org, err := s.Service.Authorize(r.Context(), who, r.PathValue("org"), verb)
		if err != nil {
			writeFailure(w, err)
			return
		}
		next(w, r, org, service.Actor{Identity: who, Method: r.Method, Path: r.URL.Path})
	})
}

// Authenticate identifies the caller of a request (for the wizard, which signs in the same way).
func (s *Server) Authenticate(r *http.Request) (service.Identity, bool, error) { return s.identity(r) }

// identity authenticates the caller: a Kubernetes bearer token (checked with a TokenReview), the
// headers of a trusted authenticating proxy, or with --local the local cluster admin.
func (s *Server) identity(r *http.Request) (service.Identity, bool, error) {
	if scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " "); found && strings.EqualFold(scheme, "Bearer") {
		return s.SignIn(r, strings.TrimSpace(tok))
	}
	return s.proxyOrLocal(r)
}

// SignIn checks a Kubernetes token presented by a request (the wizard's sign-in form, an admin
// API bearer token), charging failures to the request's source: the client behind the ingress
// when ForwardedFor names it, else the TCP peer.
func (s *Server) SignIn(r *http.Request, tok string) (service.Identity, bool, error) {
	return s.Service.SignIn(r.Context(), clientaddr.Source(r, s.ForwardedFor), tok)
}

func (s *Server) proxyOrLocal(r *http.Request) (service.Identity, bool, error) {
	if who, ok := s.proxyIdentity(r); ok {
		return who, true, nil
	}
	if s.LocalUser != nil && localHost(r) {
		return *s.LocalUser, true, nil
	}
	return service.Identity{}, false, nil
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, org *tenant.Organization, _ service.Actor) {
	st, err := s.Service.Status(r.Context(), org)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) members(w http.ResponseWriter, r *http.Request, org *tenant.Organization, _ service.Actor) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	list, next, err := s.Service.Members(r.Context(), org, store.MemberQuery{State: q.Get("state"), Search: q.Get("q"), After: q.Get("cursor"), Limit: limit})
	if err != nil {
		writeFailure(w, err)
		return
	}
	items := make([]any, 0, len(list))
	for i := range list {
		items = append(items, memberJSON(&list[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{itemsKey: items, "nextCursor": next})
}

func (s *Server) member(w http.ResponseWriter, r *http.Request, org *tenant.Organization, _ service.Actor) {
	rec, err := s.Service.Member(r.Context(), org, r.PathValue("id"))
	if err != nil {
		writeFailure(w, err)
		return
	}
	out := memberJSON(rec)
	out["history"] = rec.History
	if rec.HistoryTruncated {
		out["historyTruncated"] = true // the newest store.MaxMemberHistory entries are shown
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) review(approve bool) handler {
	return func(w http.ResponseWriter, r *http.Request, org *tenant.Organization, who service.Actor) {
		rec, err := s.Service.Review(r.Context(), org, who, r.PathValue("id"), approve)
		if err != nil {
			writeFailure(w, err)
			return
		}
		writeJSON(w, http.StatusOK, memberJSON(rec))
	}
}

func (s *Server) releaseDeprovisions(w http.ResponseWriter, r *http.Request, org *tenant.Organization, who service.Actor) {
	n, err := s.Service.Release(r.Context(), org, who)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"released": n})
}

func (s *Server) auditEvents(w http.ResponseWriter, r *http.Request, org *tenant.Organization, _ service.Actor) {
	query, err := service.ParseAuditQuery(r.URL.Query())
	if err != nil {
		writeFailure(w, err)
		return
	}
	events, next, err := s.Service.AuditEvents(r.Context(), org, query)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{itemsKey: events, "nextCursor": next})
}

func memberJSON(m *service.MemberDetails) map[string]any {
	out := map[string]any{
		"id": m.UserID, "userName": m.UserName, "name": m.Name, "emails": m.Emails, "groups": m.Groups,
		"state": m.Member.State, "role": m.Member.Role, "roleDisplayName": m.RoleDisplayName, "permissions": m.Permissions,
		"roleTemplateMissing": m.RoleTemplateMissing, "deletedByIdentityProvider": m.Member.Deleted, "employee": m.Employee,
		"created": m.Created, "modified": m.Modified,
	}
	if m.GroupsTruncated {
		out["groupsTruncated"] = true
	}
	return out
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]any{"error": message, "status": status})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// writeFailure answers an operation's error as JSON: a refusal in its words, anything else as an
// internal error (the service logged the cause).
func writeFailure(w http.ResponseWriter, err error) {
	var e *service.Error
	if errors.As(err, &e) {
		writeError(w, e.Status, e.Message)
		return
	}
	writeError(w, http.StatusInternalServerError, "Internal error; the service logged the cause")
}

func (s *Server) revealToken(w http.ResponseWriter, r *http.Request, org *tenant.Organization, who service.Actor) {
	out, err := s.Service.RevealToken(r.Context(), org, who)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, org *tenant.Organization, who service.Actor) {
	next, err := s.Service.RotateToken(r.Context(), org, who)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{
		"rotation": next,
		"note":     "A new token is being issued; reveal it once it is ready. The previous token stays valid for spec.token.overlap.",
	})
}
