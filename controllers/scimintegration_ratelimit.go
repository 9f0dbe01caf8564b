package controllers

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// checkRateLimit says when spec.rateLimit asks more than the installation allows an
// organization. The data plane serves the lower limit either way (tenant.Source); the condition
// tells the tenant, who wrote the higher one, why its identity provider gets 429s earlier than
// its spec says. It is absent while the spec is within the maximum.
func (r *ScimIntegrationReconciler) checkRateLimit(_ context.Context, s *scimScope) error {
	asked := tenant.RateLimitOf(s.scim.Spec.RateLimit)
	served, capped := asked.Capped(r.MaxRateLimit)
	if !capped {
		meta.RemoveStatusCondition(&s.scim.Status.Conditions, v1alpha1.ConditionRateLimitCapped)
		return nil
	}
	s.setCondition(v1alpha1.ConditionRateLimitCapped, true, v1alpha1.ReasonAboveInstallationMaximum,
		fmt.Sprintf("spec.rateLimit asks %s, more than this installation allows one organization: it is served at %s", asked, served))
	return nil
}
