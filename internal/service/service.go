// Package service is the application's service layer: what an admin may see and do with an
// organization's provisioning (status, members, review, release, audit log, token reveal and
// rotation), authorized with Kubernetes RBAC. It takes a context and the acting identity, never
// an HTTP request: the admin API (internal/adminapi) and the wizard (internal/ui) only translate
// HTTP to these calls and their errors to answers.
package service

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create

// Service does the work of the admin API and the wizard.
type Service struct {
	Store   store.Store
	Tenants *tenant.Registry
	// Client creates TokenReviews and SubjectAccessReviews and reads Secrets and CRs.
	Client client.Client
	// Impersonate returns a client acting as the caller, for writes to CRs (RBAC decides and the
	// API audit log names the person). Nil refuses such writes: the manager's own client would
	// write with the operator's rights instead of the caller's.
	Impersonate func(Identity) (client.Client, error)
	Log         *slog.Logger

	// signIns limits failed sign-ins per source address, and TokenReviews in flight.
	signIns signInGuard
	// accepted remembers tokens the API server accepted a moment ago.
	accepted acceptedTokens
	// reviewFailures samples the log lines of failed TokenReviews.
	reviewFailures reviewFailures
	// waiters bounds the Events API's waiting requests.
	waiters eventWaiters
	// heavyReads bounds the reads whose cost grows with an organization's data (read_guard.go);
	// eventReads the Events API's reads, apart: its long polls read every half second, and must
	// neither wait behind status and audit reads nor hold their turns.
	heavyReads     readGuard
	eventReads     readGuard
	eventReadsOnce sync.Once
}

// Actor is who acts, and where their request came in (for the audit log).
type Actor struct {
	Identity
	// Method and Path name the request (an admin API route, a wizard form).
	Method, Path string
}

// Authorize finds the organization served here and checks that who may verb its
// ScimIntegration ("get" to read, "update" to act).
//
// Many tenants share the data plane, so nobody learns from it that an organization they may not
// see exists: an organization that does not exist and one whose ScimIntegration the caller may
// not get get the same 404, word for word, after as many SubjectAccessReviews (so the time taken
// hardly tells them apart either).
// Only a caller who may get it hears why an action was refused (403).
func (s *Service) Authorize(ctx context.Context, who Identity, orgName, verb string) (*tenant.Organization, error) {
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
		return nil, Refuse(http.StatusInternalServerError, "Could not check your permissions; try again")
	}
	if found && allowed {
		return org, nil
	}
	if verb != "get" {
		visible, err := s.allowedOn(ctx, who, target("get"))
		if err != nil {
			s.Log.Error("SubjectAccessReview failed", "error", err)
			return nil, Refuse(http.StatusInternalServerError, "Could not check your permissions; try again")
		}
		if found && visible {
			return nil, Refuse(http.StatusForbidden, "%s may not %s the ScimIntegration of organization %q in namespace %s",
				who.User, verb, org.Name, org.Integration.Namespace)
		}
	}
	return nil, notServed()
}

// notServed is the one answer for an organization that is not here or not the caller's to see,
// the same bytes whatever the name asked for.
func notServed() *Error {
	return Refuse(http.StatusNotFound, "No such organization here, or you may not see it")
}

// Served returns the organization the data plane serves under this name, without authorizing.
func (s *Service) Served(name string) (*tenant.Organization, bool) { return s.organization(name) }

// Can asks Kubernetes RBAC (a SubjectAccessReview) whether who may verb the named resource.
func (s *Service) Can(ctx context.Context, who Identity, verb, group, resource, namespace, name string) (bool, error) {
	return s.allowedOn(ctx, who, &authorizationv1.ResourceAttributes{
		Namespace: namespace, Verb: verb, Group: group, Resource: resource, Name: name,
	})
}

func (s *Service) organization(name string) (*tenant.Organization, bool) {
	o, ok := s.Tenants.Organization(name)
	if !ok {
		return nil, false
	}
	return &o, true
}

func (s *Service) allowedOn(ctx context.Context, who Identity, attrs *authorizationv1.ResourceAttributes) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: who.User, UID: who.UID, Groups: slices.Clone(who.Groups), Extra: extraValues(who.Extra), ResourceAttributes: attrs,
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
		out[k] = slices.Clone(v) // the review's decoding may write into it
	}
	return out
}
