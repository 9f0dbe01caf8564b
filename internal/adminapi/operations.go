package adminapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// The operations below are the admin API's substance. The JSON handlers and the setup wizard both
// call them, so the wizard holds no provisioning logic of its own and both say the same things.

// Error is a refusal with an HTTP status and words a person can act on.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

func refuse(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Authorize finds the organization served here and checks that who may verb its
// ScimIntegration ("get" to read, "update" to act).
//
// Many tenants share the data plane, so nobody learns from it that an organization they may not
// see exists: an organization that does not exist and one whose ScimIntegration the caller may
// not get get the same 404, word for word, after as many SubjectAccessReviews (so the time taken
// hardly tells them apart either).
// Only a caller who may get it hears why an action was refused (403).
func (s *Server) Authorize(ctx context.Context, who Identity, orgName, verb string) (*tenant.Organization, error) {
	org, found := s.organization(orgName)
	// An unknown organization is checked as a cluster-wide ScimIntegration of its name; the
	// answer is thrown away, it only makes both paths ask the API server alike.
	target := func(v string) *authorizationv1.ResourceAttributes {
		attrs := &authorizationv1.ResourceAttributes{Verb: v, Group: "enterprise.z8z8.io", Resource: "scimintegrations", Name: orgName}
		if found {
			attrs.Namespace, attrs.Name = org.Integration.Namespace, org.Integration.Name
		}
		return attrs
	}
	allowed, err := s.allowedOn(ctx, who, target(verb))
	if err != nil {
		s.Log.Error("SubjectAccessReview failed", "error", err)
		return nil, refuse(http.StatusInternalServerError, "Could not check your permissions; try again")
	}
	if found && allowed {
		return org, nil
	}
	if verb != "get" {
		visible, err := s.allowedOn(ctx, who, target("get"))
		if err != nil {
			s.Log.Error("SubjectAccessReview failed", "error", err)
			return nil, refuse(http.StatusInternalServerError, "Could not check your permissions; try again")
		}
		if found && visible {
			return nil, refuse(http.StatusForbidden, "%s may not %s the ScimIntegration of organization %q in namespace %s",
				who.User, verb, org.Name, org.Integration.Namespace)
		}
	}
	return nil, notServed()
}

// notServed is the one answer for an organization that is not here or not the caller's to see,
// the same bytes whatever the name asked for.
func notServed() *Error {
	return refuse(http.StatusNotFound, "No such organization here, or you may not see it")
}

// Served returns the organization the data plane serves under this name, without authorizing.
func (s *Server) Served(name string) (*tenant.Organization, bool) { return s.organization(name) }

// Status is where an organization's provisioning stands.
type Status struct {
	Organization        string           `json:"organization"`
	Namespace           string           `json:"namespace"`
	ScimIntegration     string           `json:"scimIntegration"`
	Enabled             bool             `json:"enabled"`
	Members             map[string]int64 `json:"members"`
	HeldDeprovisionings int64            `json:"heldDeprovisionings"`
	LastRequestAt       *time.Time       `json:"lastRequestAt,omitempty"`
	LastClient          string           `json:"lastClient,omitempty"`
	// LastError is the identity provider's last refused request.
	LastError *store.AuditEvent `json:"lastError,omitempty"`
}

// Status reads the organization's member counts, held deprovisionings and last IdP request.
func (s *Server) Status(ctx context.Context, org *tenant.Organization) (*Status, error) {
	counts, err := s.Store.MemberCounts(ctx, org.Name)
	if err != nil {
		return nil, s.internal(err)
	}
	last, err := s.Store.AuditEvents(ctx, org.Name, store.AuditQuery{Limit: 1, SCIMRequests: true})
	if err != nil {
		return nil, s.internal(err)
	}
	held, err := s.Store.HeldDeprovisions(ctx, org.Name)
	if err != nil {
		return nil, s.internal(err)
	}
	out := &Status{Organization: org.Name, Namespace: org.Integration.Namespace, ScimIntegration: org.Integration.Name,
		Enabled: org.Enabled, Members: counts, HeldDeprovisionings: held}
	if len(last) > 0 {
		out.LastRequestAt, out.LastClient = &last[0].Time, last[0].Client
	}
	failed, err := s.Store.AuditEvents(ctx, org.Name, store.AuditQuery{Limit: 1, SCIMRequests: true, Failed: true})
	if err != nil {
		return nil, s.internal(err)
	}
	if len(failed) > 0 {
		out.LastError = &failed[0]
	}
	return out, nil
}

// Members pages through the organization's members (state filter, text search, cursor).
func (s *Server) Members(ctx context.Context, org *tenant.Organization, q store.MemberQuery) ([]store.MemberRecord, string, error) {
	list, next, err := s.Store.ListMembers(ctx, org.Name, q)
	if err != nil {
		return nil, "", s.internal(err)
	}
	return list, next, nil
}

// Member reads one member with its employee record and history.
func (s *Server) Member(ctx context.Context, org *tenant.Organization, id string) (*store.MemberRecord, error) {
	rec, err := s.Store.Member(ctx, org.Name, id)
	if err != nil {
		return nil, s.internal(err)
	}
	return rec, nil
}

// Review approves or rejects a member waiting for review; a member not waiting is left as it is.
func (s *Server) Review(r *http.Request, org *tenant.Organization, who Identity, id string, approve bool) (*store.MemberRecord, error) {
	action := "member.reject"
	if approve {
		action = "member.approve"
	}
	rec, err := s.Store.ReviewMember(r.Context(), org.Name, id, approve, store.AuditEvent{
		Time: time.Now().UTC(), RequestID: requestID(), Action: action, Client: "admin:" + who.User,
		Method: r.Method, Path: r.URL.Path, Status: http.StatusOK,
	})
	if err != nil {
		return nil, s.internal(err)
	}
	return rec, nil
}

// Release applies the deprovisionings the mass-deprovisioning guard holds, in order.
func (s *Server) Release(r *http.Request, org *tenant.Organization, who Identity) (int, error) {
	n, err := s.Store.ReleaseDeprovisions(r.Context(), org.Name, org.Policy, store.AuditEvent{
		Time: time.Now().UTC(), RequestID: requestID(), Action: "deprovisioning.release", Client: "admin:" + who.User,
		Method: r.Method, Path: r.URL.Path, ResourceType: "ScimIntegration", ResourceID: org.Integration.Name, Status: http.StatusOK,
	})
	if err != nil {
		return 0, s.internal(err)
	}
	return n, nil
}

// ParseAuditQuery reads the audit-event filters both the API and the wizard accept: cursor, limit,
// action, resource, outcome (success|failure), since and until (RFC 3339).
func ParseAuditQuery(q url.Values) (store.AuditQuery, error) {
	before, _ := strconv.ParseInt(q.Get("cursor"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	query := store.AuditQuery{Before: before, Limit: limit, Action: q.Get("action"), ResourceID: q.Get("resource")}
	switch q.Get("outcome") {
	case "failure":
		query.Failed = true
	case "success":
		query.Succeeded = true
	case "":
	default:
		return query, refuse(http.StatusBadRequest, "outcome must be success or failure")
	}
	for name, t := range map[string]*time.Time{"since": &query.Since, "until": &query.Until} {
		if v := q.Get(name); v != "" {
			parsed, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return query, refuse(http.StatusBadRequest, "%s must be an RFC 3339 time such as 2026-11-27T10:00:00Z", name)
			}
			*t = parsed
		}
	}
	return query, nil
}

// AuditEvents reads a page of the organization's audit log, newest first, and the next cursor.
func (s *Server) AuditEvents(ctx context.Context, org *tenant.Organization, q store.AuditQuery) ([]store.AuditEvent, string, error) {
	events, err := s.Store.AuditEvents(ctx, org.Name, q)
	if err != nil {
		return nil, "", s.internal(err)
	}
	if events == nil {
		events = []store.AuditEvent{}
	}
	next := ""
	if len(events) > 0 && (q.Limit <= 0 || len(events) == q.Limit) {
		next = strconv.FormatInt(events[len(events)-1].Seq, 10)
	}
	return events, next, nil
}

// internal turns a store error into a refusal: not found as such, anything else logged and hidden.
func (s *Server) internal(err error) error {
	if e := (*Error)(nil); errors.As(err, &e) {
		return e // already a refusal in words (an identity the operator does not act as)
	}
	if errors.Is(err, store.ErrNotFound) {
		return refuse(http.StatusNotFound, "No such member in this organization")
	}
	s.Log.Error("Admin API request failed", "error", err)
	return refuse(http.StatusInternalServerError, "Internal error; the service logged the cause")
}

// writeFailure answers an operation's error as JSON.
func writeFailure(w http.ResponseWriter, err error) {
	var e *Error
	if errors.As(err, &e) {
		writeError(w, e.Status, e.Message)
		return
	}
	writeError(w, http.StatusInternalServerError, "Internal error; the service logged the cause")
}
