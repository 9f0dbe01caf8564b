package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/claims"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
)

// claimOrganization takes or keeps the identity's OrganizationClaim. Creating the claim is the
// atomic step between claimants anywhere in the cluster; taking over a released claim is an
// update with the claim's resourceVersion, so of two racing identities one wins. A claim whose
// data belongs to another namespace is never taken: only a cluster administrator can move it.
func (r *EnterpriseIdentityReconciler) claimOrganization(ctx context.Context, s *identityScope) error {
	identity := s.identity
	org := identity.Spec.Organization
	claim, err := claims.Get(ctx, r.Client, org)
	if err != nil {
		return err
	}
	if claim == nil {
		// Of the identities waiting for a free slug the oldest creates the claim (as before
		// claims existed, so an upgrade keeps every organization with its holder).
		if first, err := r.firstClaimant(ctx, identity); err != nil || (first != nil && first.UID != identity.UID) {
			if err == nil {
				r.refuseClaim(s, v1alpha1.ReasonConflict, EventConflict, fmt.Sprintf(
					"Organization %q is being claimed by %s; choose another organization slug", org, claimantName(identity, first)))
				// No claim exists yet: the one ahead may never make it (refused for its
				// namespace's limit since), and then no claim event would come.
				s.requeue.in(unclaimedRecheck)
			}
			return err
		}
		claim = &v1alpha1.OrganizationClaim{
			ObjectMeta: metav1.ObjectMeta{Name: org, Finalizers: []string{v1alpha1.FinalizerOrganizationData}},
			Spec:       v1alpha1.OrganizationClaimSpec{Namespace: identity.Namespace, Holder: holderOf(identity)},
		}
		if err := r.Create(ctx, claim); err != nil {
			if apierrors.IsAlreadyExists(err) {
				s.requeue.in(conflictRetry) // another claimant was first; see who next pass
				s.conflict, s.conflictReason = fmt.Sprintf("Organization %q was claimed a moment ago; looking again", org), v1alpha1.ReasonConflict
				return errStop
			}
			return fmt.Errorf("creating OrganizationClaim %s: %w", org, err)
		}
		r.Recorder.Eventf(identity, nil, corev1.EventTypeNormal, EventClaimed, actionReconcile, "Claimed organization %s", org)
		return nil
	}
	if claim.HeldBy(identity) {
		return nil
	}
	holder, err := claims.LiveHolder(ctx, r.Client, claim)
	if err != nil {
		return err
	}
	switch {
	case holder != nil:
		r.refuseClaim(s, v1alpha1.ReasonConflict, EventConflict, fmt.Sprintf(
			"Organization %q is already claimed by %s; choose another organization slug", org, claimantName(identity, holder)))
		return nil
	case claim.Spec.Namespace != identity.Namespace:
		r.refuseClaim(s, v1alpha1.ReasonOrganizationRetained, EventRetained, fmt.Sprintf(
			"Organization %q was released by another namespace, which keeps its data; choose another slug, "+
				"or ask a cluster administrator to hand it to this namespace (spec.namespace of OrganizationClaim %s)", org, org))
		return nil
	case !claim.DeletionTimestamp.IsZero():
		r.refuseClaim(s, v1alpha1.ReasonOrganizationRetained, EventRetained, fmt.Sprintf(
			"Organization %q is being deleted by a cluster administrator; it can be claimed again once its data is gone", org))
		return nil
	}
	claim.Spec.Holder = holderOf(identity)
	if err := r.Update(ctx, claim); err != nil {
		if apierrors.IsConflict(err) {
			s.requeue.in(conflictRetry)
			// Not Ready until the next pass knows who holds it (Ready would otherwise say SSO's).
			s.conflict, s.conflictReason = fmt.Sprintf("Organization %q changed hands a moment ago; looking again", org), v1alpha1.ReasonConflict
			return errStop
		}
		return fmt.Errorf("taking over OrganizationClaim %s: %w", org, err)
	}
	r.Recorder.Eventf(identity, nil, corev1.EventTypeNormal, EventClaimed, actionReconcile, "Claimed organization %s (its retained data stays with it)", org)
	return nil
}

// refuseClaim reports why the identity does not hold its organization, with an event on the
// first pass that finds it.
func (r *EnterpriseIdentityReconciler) refuseClaim(s *identityScope, reason, event, message string) {
	s.conflict, s.conflictReason = message, reason
	if !isConditionReason(s.identity.Status.Conditions, v1alpha1.ConditionReady, reason) {
		r.Recorder.Eventf(s.identity, nil, corev1.EventTypeWarning, event, actionReconcile, "%s", message)
	}
}

// releaseOrganization is the identity's finalizer: the claim is released, never deleted, so the
// organization's data stays with this namespace until a ScimIntegration with deletionPolicy
// Delete or a cluster administrator removes it. A claim with no data is then deleted by the
// OrganizationClaim controller once its release is ReleaseGrace old, which frees the slug.
func (r *EnterpriseIdentityReconciler) releaseOrganization(ctx context.Context, identity *v1alpha1.EnterpriseIdentity) error {
	if !controllerutil.ContainsFinalizer(identity, v1alpha1.FinalizerOrganizationClaim) {
		return nil
	}
	claim, held, err := claims.HeldBy(ctx, r.Client, identity)
	if err != nil {
		return err
	}
	if held {
		claim.Spec.Holder = nil
		if claim.Annotations == nil {
			claim.Annotations = map[string]string{}
		}
		claim.Annotations[v1alpha1.AnnotationReleasedAt] = r.Clock.Now().UTC().Format(time.RFC3339)
		if err := r.Update(ctx, claim); err != nil {
			return fmt.Errorf("releasing OrganizationClaim %s: %w", claim.Name, err)
		}
		r.Recorder.Eventf(identity, nil, corev1.EventTypeNormal, EventReleased, "Delete",
			"Released organization %s; its data stays with namespace %s", claim.Name, claim.Spec.Namespace)
		ctrl.LoggerFrom(ctx).Info("Released organization", "organization", claim.Name)
	}
	return removeFinalizer(ctx, r.Client, r.APIReader, identity, v1alpha1.FinalizerOrganizationClaim)
}

// firstClaimant is the oldest EnterpriseIdentity naming the organization that is not being deleted.
func (r *EnterpriseIdentityReconciler) firstClaimant(ctx context.Context, identity *v1alpha1.EnterpriseIdentity) (*v1alpha1.EnterpriseIdentity, error) {
	org := identity.Spec.Organization
	list := &v1alpha1.EnterpriseIdentityList{}
	if err := r.List(ctx, list, client.MatchingFields{index.Organization: org}); err != nil {
		return nil, fmt.Errorf("listing claimants of organization %s: %w", org, err)
	}
	var first *v1alpha1.EnterpriseIdentity
	for i := range list.Items {
		c := &list.Items[i]
		// One refused for its namespace's limit of organizations waits for none: otherwise a
		// namespace at its limit could hold any number of slugs from others by naming them.
		// (The identity reconciled now passed the limit in this pass, whatever its status says.)
		if c.UID != identity.UID && isConditionReason(c.Status.Conditions, v1alpha1.ConditionReady, v1alpha1.ReasonNamespaceOrganizationLimit) {
			continue
		}
		if c.DeletionTimestamp.IsZero() && (first == nil || claims.Earlier(c, first)) {
			first = c
		}
	}
	return first, nil
}

// unclaimedRecheck is how soon an identity waiting for an earlier claimant of a slug nobody
// claimed yet looks again (each pass checks its SSO too: not every few seconds).
const unclaimedRecheck = 2 * time.Minute

// claimantName names another claimant only to its own namespace: which namespaces hold which
// organizations is not another tenant's business (a cluster administrator sees the claims).
func claimantName(identity, other *v1alpha1.EnterpriseIdentity) string {
	if other.Namespace == identity.Namespace {
		return "EnterpriseIdentity " + other.Name
	}
	return "an EnterpriseIdentity in another namespace"
}

func holderOf(identity *v1alpha1.EnterpriseIdentity) *v1alpha1.ClaimHolder {
	return &v1alpha1.ClaimHolder{Namespace: identity.Namespace, Name: identity.Name, UID: string(identity.UID)}
}
