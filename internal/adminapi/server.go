// Package adminapi is the JSON API admins (and the setup wizard) use to see and act on an
// organization's provisioning: status, members and their records, reviews, and the audit log.
// Authorization is Kubernetes RBAC: a SubjectAccessReview asks whether the caller may get (or,
// for actions, update) the organization's ScimIntegration in its namespace.
package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create

// Server serves /api/v1alpha1/organizations/{organization}/….
type Server struct {
	Store   store.Store
	Tenants *tenant.Registry
	// Client creates SubjectAccessReviews.
	Client client.Client
	// TrustProxyHeaders accepts X-Remote-User and X-Remote-Group from an authenticating proxy
	// (oauth2-proxy and the like) in front of the data plane, when the TCP peer is inside one of
	// TrustedProxies (none: the headers are never believed).
	TrustProxyHeaders bool
	TrustedProxies    []netip.Prefix
	// TrustedOrigins are origins (scheme://host[:port]) besides the request's own Host from which
	// browsers may send actions: the public --external-url.
	TrustedOrigins []string
	// LocalUser, when set (--local), is the identity of requests that carry none: the local
	// kubeconfig's user (Source Local, so its system:masters is impersonated, with --local only).
	LocalUser *Identity
	// Impersonate returns a client acting as the caller, for writes to CRs (RBAC decides and the
	// API audit log names the person). Nil refuses such writes: the manager's own client would
	// write with the operator's rights instead of the caller's.
	Impersonate func(Identity) (client.Client, error)
	Log         *slog.Logger

	origins *http.CrossOriginProtection
	// signIns limits failed sign-ins per source address.
	signIns signInGuard
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
	mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "No such admin API endpoint")
	}))
}

type handler func(w http.ResponseWriter, r *http.Request, org *tenant.Organization, who Identity)

func (s *Server) authorized(verb string, next handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, ok, err := s.identity(r)
		if e := (*Error)(nil); errors.As(err, &e) {
			writeFailure(w, e)
			return
		}
		if e := (*TooManySignIns)(nil); errors.As(err, &e) {
			e.SetRetryAfter(w)
			writeError(w, http.StatusTooManyRequests, e.Error())
			return
		}
		if err != nil {
			s.Log.Error("TokenReview failed", "error", err)
			writeError(w, http.StatusInternalServerError, "Could not check your token; try again")
			return
		}
		if !ok {
			writeError(w, http.StatusUnauthorized, "Sign in first: no authenticated user reached the admin API")
			return
		}
		// Before the organization is looked at: the refusal says nothing about it.
		if e := s.crossSite(r, who); e != nil {
			writeFailure(w, e)
			return
		}
		org, err := s.Authorize(r.Context(), who, r.PathValue("org"), verb)
		if err != nil {
			writeFailure(w, err)
			return
		}
		next(w, r, org, who)
	})
}

// Authenticate identifies the caller of a request (for the wizard, which signs in the same way).
func (s *Server) Authenticate(r *http.Request) (Identity, bool, error) { return s.identity(r) }

// Can asks Kubernetes RBAC (a SubjectAccessReview) whether who may verb the named resource.
func (s *Server) Can(ctx context.Context, who Identity, verb, group, resource, namespace, name string) (bool, error) {
	return s.allowedOn(ctx, who, &authorizationv1.ResourceAttributes{
		Namespace: namespace, Verb: verb, Group: group, Resource: resource, Name: name,
	})
}

// identity authenticates the caller: a Kubernetes bearer token (checked with a TokenReview), the
// headers of a trusted authenticating proxy, or with --local the local cluster admin.
func (s *Server) identity(r *http.Request) (Identity, bool, error) {
	if scheme, tok, found := strings.Cut(r.Header.Get("Authorization"), " "); found && strings.EqualFold(scheme, "Bearer") {
		return s.SignIn(r, strings.TrimSpace(tok))
	}
	who, ok := s.proxyOrLocal(r)
	return who, ok, nil
}

// SignIn checks a Kubernetes token presented by a request (the wizard's sign-in form, an admin
// API bearer token), refusing with *TooManySignIns a source whose failed attempts are over budget.
func (s *Server) SignIn(r *http.Request, tok string) (Identity, bool, error) {
	source, now := sourceAddress(r), time.Now()
	if wait := s.signIns.wait(source, now); wait > 0 {
		return Identity{}, false, &TooManySignIns{RetryAfter: wait}
	}
	who, ok, err := s.AuthenticateToken(r.Context(), tok)
	if err == nil && !ok && tok != "" {
		s.signIns.failed(source, now)
	}
	return who, ok, err
}

// AuthenticateToken checks a Kubernetes bearer token with a TokenReview. The identity keeps the
// review's UID and extras; a Kubernetes system identity other than a service account is refused
// (an *Error), and "system:" groups are kept only as identity.go's rule says.
func (s *Server) AuthenticateToken(ctx context.Context, tok string) (Identity, bool, error) {
	if tok == "" {
		return Identity{}, false, nil
	}
	review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tok}}
	if err := s.Client.Create(ctx, review); err != nil {
		return Identity{}, false, err
	}
	if !review.Status.Authenticated {
		return Identity{}, false, nil
	}
	who, err := reviewedIdentity(review.Status.User)
	if err != nil {
		return Identity{}, false, err
	}
	return who, true, nil
}

func (s *Server) proxyOrLocal(r *http.Request) (Identity, bool) {
	if who, ok := s.proxyIdentity(r); ok {
		return who, true
	}
	if s.LocalUser != nil {
		return *s.LocalUser, true
	}
	return Identity{}, false
}

func (s *Server) organization(name string) (*tenant.Organization, bool) {
	for _, o := range s.Tenants.Organizations() {
		if o.Name == name {
			return &o, true
		}
	}
	return nil, false
}

func (s *Server) allowedOn(ctx context.Context, who Identity, attrs *authorizationv1.ResourceAttributes) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: who.User, UID: who.UID, Groups: who.Groups, Extra: extraValues(who.Extra), ResourceAttributes: attrs,
	}}
	if err := s.Client.Create(ctx, sar); err != nil {
		return false, err
	}
	return sar.Status.Allowed, nil
}

// extraValues converts an identity's extras for a SubjectAccessReview.
func extraValues(extra map[string][]string) map[string]authorizationv1.ExtraValue {
	if len(extra) == 0 {
		return nil
	}
	out := make(map[string]authorizationv1.ExtraValue, len(extra))
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func (s *Server) status(w http.ResponseWriter, r *http.Request, org *tenant.Organization, _ Identity) {
	st, err := s.Status(r.Context(), org)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) members(w http.ResponseWriter, r *http.Request, org *tenant.Organization, _ Identity) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	list, next, err := s.Members(r.Context(), org, store.MemberQuery{State: q.Get("state"), Search: q.Get("q"), After: q.Get("cursor"), Limit: limit})
	if err != nil {
		writeFailure(w, err)
		return
	}
	items := make([]any, 0, len(list))
	for i := range list {
		items = append(items, memberJSON(&list[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "nextCursor": next})
}

func (s *Server) member(w http.ResponseWriter, r *http.Request, org *tenant.Organization, _ Identity) {
	rec, err := s.Member(r.Context(), org, r.PathValue("id"))
	if err != nil {
		writeFailure(w, err)
		return
	}
	out := memberJSON(rec)
	out["history"] = rec.History
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) review(approve bool) handler {
	return func(w http.ResponseWriter, r *http.Request, org *tenant.Organization, who Identity) {
		rec, err := s.Review(r, org, who, r.PathValue("id"), approve)
		if err != nil {
			writeFailure(w, err)
			return
		}
		writeJSON(w, http.StatusOK, memberJSON(rec))
	}
}

func (s *Server) releaseDeprovisions(w http.ResponseWriter, r *http.Request, org *tenant.Organization, who Identity) {
	n, err := s.Release(r, org, who)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"released": n})
}

func (s *Server) auditEvents(w http.ResponseWriter, r *http.Request, org *tenant.Organization, _ Identity) {
	query, err := ParseAuditQuery(r.URL.Query())
	if err != nil {
		writeFailure(w, err)
		return
	}
	events, next, err := s.AuditEvents(r.Context(), org, query)
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": events, "nextCursor": next})
}

func memberJSON(rec *store.MemberRecord) map[string]any {
	return map[string]any{
		"id": rec.UserID, "userName": rec.UserName, "state": rec.Member.State, "role": rec.Member.Role,
		"deletedByIdentityProvider": rec.Member.Deleted, "employee": rec.Employee,
		"created": rec.Created, "modified": rec.Modified,
	}
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

func requestID() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36)
}
