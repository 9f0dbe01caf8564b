package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// finalize applies deletionPolicy to the organization's SCIM data in the store, the only state
// outside the cluster; in-cluster children go with their owner references.
func (r *ScimIntegrationReconciler) finalize(ctx context.Context, scim *v1alpha1.ScimIntegration) error {
	if !controllerutil.ContainsFinalizer(scim, scimDataFinalizer) {
		return nil
	}
	org := scim.Status.Organization
	if scim.Spec.DeletionPolicy == v1alpha1.DeletionPolicyDelete && org != "" && r.Data != nil && ownsOrganization(scim) {
		if err := r.Data.DeleteOrganization(ctx, org); err != nil {
			return fmt.Errorf("deleting SCIM data of organization %s: %w", org, err)
		}
		r.Recorder.Eventf(scim, nil, corev1.EventTypeNormal, EventDataDeleted, "Delete",
			"Deleted the SCIM data of organization %s (deletionPolicy: Delete)", org)
		ctrl.LoggerFrom(ctx).Info("Deleted SCIM data of organization", "organization", org)
	}
	controllerutil.RemoveFinalizer(scim, scimDataFinalizer)
	return r.Update(ctx, scim)
}

// ownsOrganization is false for an integration that lost the organization to another one (it
// never served it, so it must not delete the other's data).
func ownsOrganization(scim *v1alpha1.ScimIntegration) bool {
	return !isConditionReason(scim.Status.Conditions, v1alpha1.ConditionSSOReady, ReasonConflict) &&
		!isConditionReason(scim.Status.Conditions, v1alpha1.ConditionSSOReady, ReasonIdentityConflict)
}
