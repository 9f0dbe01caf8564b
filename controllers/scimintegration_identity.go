package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/claims"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// resolveIdentity applies the product rule "configure SSO first": nothing is issued until the
// referenced EnterpriseIdentity holds its organization's claim and is Ready. An integration that
// already has a token keeps it (and its endpoint) when SSO later fails validation, so an
// identity provider outage does not stop provisioning; Ready still says what is wrong.
func (r *ScimIntegrationReconciler) resolveIdentity(ctx context.Context, s *scimScope) error {
	identity := &v1alpha1.EnterpriseIdentity{}
	err := r.Get(ctx, types.NamespacedName{Namespace: s.scim.Namespace, Name: s.scim.Spec.IdentityRef.Name}, identity)
	if apierrors.IsNotFound(err) {
		s.setCondition(v1alpha1.ConditionSSOReady, false, v1alpha1.ReasonIdentityNotFound,
			fmt.Sprintf("EnterpriseIdentity %q does not exist in this namespace: configure SSO first", s.scim.Spec.IdentityRef.Name))
		return r.keepOrganizationOfNamespace(ctx, s)
	}
	if err != nil {
		return fmt.Errorf("reading EnterpriseIdentity %s: %w", s.scim.Spec.IdentityRef.Name, err)
	}
	s.identity = identity

	claim, held, err := claims.HeldBy(ctx, r.Client, identity)
	if err != nil {
		return err
	}
	if !held {
		why := "it has not claimed the organization yet"
		if c := identity.HeldElsewhere(); c != nil && c.Message != "" {
			why = c.Message
		}
		s.setCondition(v1alpha1.ConditionSSOReady, false, v1alpha1.ReasonIdentityConflict,
			fmt.Sprintf("EnterpriseIdentity %s does not hold organization %s: %s", identity.Name, identity.Spec.Organization, why))
		s.scim.Status.Organization = ""
		return errStop
	}
	s.claim = claim

	if !meta.IsStatusConditionTrue(identity.Status.Conditions, v1alpha1.ConditionSSOReady) {
		why := "its SSO configuration has not been validated yet"
		if c := meta.FindStatusCondition(identity.Status.Conditions, v1alpha1.ConditionSSOReady); c != nil && c.Message != "" {
			why = c.Message
		}
		s.setCondition(v1alpha1.ConditionSSOReady, false, v1alpha1.ReasonWaitingForSSO,
			fmt.Sprintf("Waiting for SSO of EnterpriseIdentity %s: %s", identity.Name, why))
		if s.scim.Status.Token == nil {
			return errStop
		}
		return nil
	}
	s.setCondition(v1alpha1.ConditionSSOReady, true, v1alpha1.ReasonReady, fmt.Sprintf("SSO of organization %s is ready", identity.Spec.Organization))
	return nil
}

// keepOrganizationOfNamespace keeps status.organization after the identity is gone only while
// the organization's data stays with this namespace, so deletionPolicy can still apply to it;
// an organization held or kept elsewhere is forgotten.
func (r *ScimIntegrationReconciler) keepOrganizationOfNamespace(ctx context.Context, s *scimScope) error {
	if s.scim.Status.Organization == "" {
		return errStop
	}
	claim, err := claims.Get(ctx, r.Client, s.scim.Status.Organization)
	if err != nil {
		return err
	}
	if !mayDeleteData(ctx, r, s.scim, claim) {
		s.scim.Status.Organization = ""
	}
	return errStop
}

// claimIdentity lets one ScimIntegration per organization through: the oldest.
func (r *ScimIntegrationReconciler) claimIdentity(ctx context.Context, s *scimScope) error {
	chosen, err := claims.ChosenIntegration(ctx, r.Client, s.scim.Namespace, s.scim.Spec.IdentityRef.Name)
	if err != nil {
		return err
	}
	if chosen != nil && chosen.Name != s.scim.Name {
		s.setCondition(v1alpha1.ConditionSSOReady, false, v1alpha1.ReasonConflict,
			fmt.Sprintf("ScimIntegration %s already provisions organization %s; delete one of the two", chosen.Name, s.identity.Spec.Organization))
		s.scim.Status.Organization = ""
		return errStop
	}
	return nil
}

// bindData makes sure the organization's data in the store belongs to this claim and is served
// by this integration: the first claim binds it; data retained under an earlier claim is never
// served under a new one unless a cluster administrator names it in the claim's spec.adoptDataOf.
// Binding this integration refuses the writes still in flight from the one before, such as one
// deleted with its data (decision 0020).
func (r *ScimIntegrationReconciler) bindData(ctx context.Context, s *scimScope) error {
	org := s.identity.Spec.Organization
	if r.Data != nil {
		binding := store.Binding{Claim: string(s.claim.UID), Integration: string(s.scim.UID)}
		bound, err := r.Data.OrganizationBinding(ctx, org)
		if err != nil {
			return err
		}
		if bound != binding {
			err = r.Data.BindOrganization(ctx, org, binding, s.claim.Spec.AdoptDataOf)
		}
		var mismatch *store.ClaimMismatchError
		if errors.As(err, &mismatch) {
			s.setCondition(v1alpha1.ConditionSSOReady, false, v1alpha1.ReasonDataOwnedByAnotherClaim, fmt.Sprintf(
				"The store holds data of organization %s from an earlier OrganizationClaim (uid %s); a cluster administrator "+
					"can let this claim adopt it by setting spec.adoptDataOf of OrganizationClaim %s", org, mismatch.Owner, org))
			s.scim.Status.Organization = ""
			return errStop
		}
		if errors.Is(err, store.ErrOrganizationBeingDeleted) {
			// An integration deleted with its data, or a released claim, is deleting it a part
			// at a time: this one binds the organization once that is done.
			s.setCondition(v1alpha1.ConditionSSOReady, false, v1alpha1.ReasonOrganizationDataBeingDeleted, fmt.Sprintf(
				"The store is deleting the earlier data of organization %s; this integration serves it once that is done", org))
			s.scim.Status.Organization = ""
			s.requeue.in(5 * time.Second)
			return errStop
		}
		if err != nil {
			return err
		}
	}
	s.scim.Status.Organization = org
	return nil
}
