package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// checkPolicy reports a provisioning policy that names a RoleTemplate that does not exist: new
// members would get a role nobody defined, so it is said plainly rather than defaulted silently.
// Provisioning still runs; Ready says what to fix.
func (r *ScimIntegrationReconciler) checkPolicy(ctx context.Context, s *scimScope) error {
	p := s.scim.Spec.Provisioning
	type ref struct{ name, field string } // in spec order, so the condition names the first problem
	var named []ref
	if p.DefaultRoleTemplate != "" {
		named = append(named, ref{p.DefaultRoleTemplate, "spec.provisioning.defaultRoleTemplate"})
	}
	for i, m := range p.GroupRoles {
		named = append(named, ref{m.RoleTemplate, fmt.Sprintf("spec.provisioning.groupRoles[%d]", i)})
	}
	for _, n := range named {
		name, field := n.name, n.field
		err := r.Get(ctx, types.NamespacedName{Namespace: s.scim.Namespace, Name: name}, &v1alpha1.RoleTemplate{})
		switch {
		case apierrors.IsNotFound(err):
			s.setCondition(v1alpha1.ConditionPolicyReady, false, v1alpha1.ReasonRoleTemplateNotFound,
				fmt.Sprintf("%s names RoleTemplate %q, which does not exist in this namespace", field, name))
			return nil
		case err != nil:
			return fmt.Errorf("reading RoleTemplate %s: %w", name, err)
		}
	}
	message := "New members get no role template"
	if p.DefaultRoleTemplate != "" {
		message = fmt.Sprintf("New members get role template %s", p.DefaultRoleTemplate)
	}
	if len(p.GroupRoles) > 0 {
		message += fmt.Sprintf("; %d group role mapping(s)", len(p.GroupRoles))
	}
	s.setCondition(v1alpha1.ConditionPolicyReady, true, v1alpha1.ReasonPolicyValid, message)
	return nil
}
