package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// Reasons of PolicyReady.
const (
	ReasonPolicyValid          = "Valid"
	ReasonRoleTemplateNotFound = "RoleTemplateNotFound"
)

// checkPolicy reports a provisioning policy that names a RoleTemplate that does not exist: new
// members would get a role nobody defined, so it is said plainly rather than defaulted silently.
// Provisioning still runs; Ready says what to fix.
func (r *ScimIntegrationReconciler) checkPolicy(ctx context.Context, s *scimScope) error {
	name := s.scim.Spec.Provisioning.DefaultRoleTemplate
	if name == "" {
		s.setCondition(v1alpha1.ConditionPolicyReady, true, ReasonPolicyValid, "New members get no role template")
		return nil
	}
	err := r.Get(ctx, types.NamespacedName{Namespace: s.scim.Namespace, Name: name}, &v1alpha1.RoleTemplate{})
	switch {
	case apierrors.IsNotFound(err):
		s.setCondition(v1alpha1.ConditionPolicyReady, false, ReasonRoleTemplateNotFound,
			fmt.Sprintf("spec.provisioning.defaultRoleTemplate names RoleTemplate %q, which does not exist in this namespace", name))
		return nil
	case err != nil:
		return fmt.Errorf("reading RoleTemplate %s: %w", name, err)
	}
	s.setCondition(v1alpha1.ConditionPolicyReady, true, ReasonPolicyValid, fmt.Sprintf("New members get role template %s", name))
	return nil
}
