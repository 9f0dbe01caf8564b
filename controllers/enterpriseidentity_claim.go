package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
)

// checkOrganizationClaim settles which object owns an organization slug: the oldest claimant
// (then the first by namespace/name) wins; every other one is told who holds it.
func (r *EnterpriseIdentityReconciler) checkOrganizationClaim(ctx context.Context, s *identityScope) error {
	holder, err := organizationHolder(ctx, r.Client, s.identity.Spec.Organization)
	if err != nil {
		return err
	}
	if holder == nil || (holder.Namespace == s.identity.Namespace && holder.Name == s.identity.Name) {
		return nil
	}
	s.conflict = fmt.Sprintf("Organization %q is already claimed by EnterpriseIdentity %s/%s; choose another organization slug",
		s.identity.Spec.Organization, holder.Namespace, holder.Name)
	if c := meta.FindStatusCondition(s.identity.Status.Conditions, v1alpha1.ConditionReady); c == nil || c.Reason != ReasonConflict {
		r.Recorder.Eventf(s.identity, nil, corev1.EventTypeWarning, EventConflict, actionReconcile, "%s", s.conflict)
	}
	return nil
}

// organizationHolder returns the EnterpriseIdentity that owns an organization slug, or nil when
// nobody claims it.
func organizationHolder(ctx context.Context, c client.Reader, organization string) (*v1alpha1.EnterpriseIdentity, error) {
	claimants := &v1alpha1.EnterpriseIdentityList{}
	if err := c.List(ctx, claimants, client.MatchingFields{index.Organization: organization}); err != nil {
		return nil, fmt.Errorf("listing claimants of organization %s: %w", organization, err)
	}
	var holder *v1alpha1.EnterpriseIdentity
	for i := range claimants.Items {
		c := &claimants.Items[i]
		if !c.DeletionTimestamp.IsZero() {
			continue
		}
		if holder == nil || claimsEarlier(c, holder) {
			holder = c
		}
	}
	return holder, nil
}

func claimsEarlier(a, b client.Object) bool {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	if a.GetNamespace() != b.GetNamespace() {
		return a.GetNamespace() < b.GetNamespace()
	}
	return a.GetName() < b.GetName()
}
