package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
)

// resolveIdentity applies the product rule "configure SSO first": nothing is issued until the
// referenced EnterpriseIdentity is Ready. An integration that already has a token keeps it (and
// its endpoint) when SSO later fails validation, so an identity provider outage does not stop
// provisioning; Ready still says what is wrong.
func (r *ScimIntegrationReconciler) resolveIdentity(ctx context.Context, s *scimScope) error {
	identity := &v1alpha1.EnterpriseIdentity{}
	err := r.Get(ctx, types.NamespacedName{Namespace: s.scim.Namespace, Name: s.scim.Spec.IdentityRef.Name}, identity)
	if apierrors.IsNotFound(err) {
		s.setCondition(v1alpha1.ConditionSSOReady, false, ReasonIdentityNotFound,
			fmt.Sprintf("EnterpriseIdentity %q does not exist in this namespace: configure SSO first", s.scim.Spec.IdentityRef.Name))
		return errStop
	}
	if err != nil {
		return fmt.Errorf("reading EnterpriseIdentity %s: %w", s.scim.Spec.IdentityRef.Name, err)
	}
	s.identity = identity
	s.scim.Status.Organization = identity.Spec.Organization

	ready := meta.FindStatusCondition(identity.Status.Conditions, v1alpha1.ConditionReady)
	switch {
	case ready != nil && ready.Reason == ReasonConflict:
		s.setCondition(v1alpha1.ConditionSSOReady, false, ReasonIdentityConflict,
			fmt.Sprintf("EnterpriseIdentity %s does not own its organization: %s", identity.Name, ready.Message))
		return errStop
	case !meta.IsStatusConditionTrue(identity.Status.Conditions, v1alpha1.ConditionSSOReady):
		why := "its SSO configuration has not been validated yet"
		if c := meta.FindStatusCondition(identity.Status.Conditions, v1alpha1.ConditionSSOReady); c != nil && c.Message != "" {
			why = c.Message
		}
		s.setCondition(v1alpha1.ConditionSSOReady, false, ReasonWaitingForSSO,
			fmt.Sprintf("Waiting for SSO of EnterpriseIdentity %s: %s", identity.Name, why))
		if s.scim.Status.Token == nil {
			return errStop
		}
		return nil
	}
	s.setCondition(v1alpha1.ConditionSSOReady, true, ReasonReady, fmt.Sprintf("SSO of organization %s is ready", identity.Spec.Organization))
	return nil
}

// claimIdentity lets one ScimIntegration per organization through: the oldest.
func (r *ScimIntegrationReconciler) claimIdentity(ctx context.Context, s *scimScope) error {
	list := &v1alpha1.ScimIntegrationList{}
	if err := r.List(ctx, list, client.InNamespace(s.scim.Namespace), client.MatchingFields{index.IdentityRef: s.scim.Spec.IdentityRef.Name}); err != nil {
		return fmt.Errorf("listing ScimIntegrations of %s: %w", s.scim.Spec.IdentityRef.Name, err)
	}
	for i := range list.Items {
		other := &list.Items[i]
		if other.Name != s.scim.Name && other.DeletionTimestamp.IsZero() && claimsEarlier(other, s.scim) {
			s.setCondition(v1alpha1.ConditionSSOReady, false, ReasonConflict,
				fmt.Sprintf("ScimIntegration %s already provisions organization %s; delete one of the two", other.Name, s.identity.Spec.Organization))
			return errStop
		}
	}
	return nil
}
