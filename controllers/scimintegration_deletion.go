package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/claims"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// finalize applies deletionPolicy to the organization's SCIM data in the store, the only state
// outside the cluster; in-cluster children go with their owner references. Data is deleted only
// when it belongs to this namespace (see mayDeleteData), whatever status.organization says.
func (r *ScimIntegrationReconciler) finalize(ctx context.Context, scim *v1alpha1.ScimIntegration) error {
	if !controllerutil.ContainsFinalizer(scim, v1alpha1.FinalizerSCIMData) {
		return nil
	}
	if r.Data != nil {
		// First, whatever the policy: the data may be kept even under Delete (another claim's,
		// or not this namespace's to delete), and then its binding stays. Best effort: a store out
		// of reach must not keep a Retain integration from going (replicas whose view lags are then
		// stopped only when the next integration binds the organization).
		if err := r.retireTokens(ctx, scim); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Recording that a deleted ScimIntegration serves nothing")
		}
	}
	if scim.Spec.DeletionPolicy == v1alpha1.DeletionPolicyDelete && r.Data != nil {
		org, err := r.servedOrganization(ctx, scim)
		if err != nil {
			return err
		}
		if org != "" {
			claim, err := claims.Get(ctx, r.Client, org)
			if err != nil {
				return err
			}
			if mayDeleteData(ctx, r, scim, claim) {
				if err := r.deleteData(ctx, scim, claim); err != nil {
					return err
				}
			} else {
				ctrl.LoggerFrom(ctx).Info("Not deleting SCIM data of an organization this namespace does not hold", "organization", org)
			}
		}
	}
	r.summaries.forget(scim.UID)
	return removeFinalizer(ctx, r.Client, r.APIReader, scim, v1alpha1.FinalizerSCIMData)
}

// retireTokens records that an integration being deleted serves nothing. Where its data is kept,
// its binding stays in the store until another integration binds the organization, and a replica
// whose view lags would otherwise keep serving the kept data to the old token.
func (r *ScimIntegrationReconciler) retireTokens(ctx context.Context, scim *v1alpha1.ScimIntegration) error {
	org, err := r.servedOrganization(ctx, scim)
	if err != nil || org == "" {
		return err
	}
	bound, err := r.Data.OrganizationBinding(ctx, org)
	if err != nil || bound.Integration != string(scim.UID) {
		return err
	}
	return r.Data.RecordServing(ctx, org, bound, store.Serving{Tokens: []string{}, Disabled: true})
}

// servedOrganization is the organization whose data the integration may have written:
// status.organization, or, when the status was not saved (an integration deleted right after it
// bound the organization, its status patch losing to the deletion), the store's: its identity's
// organization if the store binds it to this integration, else the one organization the store
// binds to it (the identity gone). Otherwise none, and the data is kept.
func (r *ScimIntegrationReconciler) servedOrganization(ctx context.Context, scim *v1alpha1.ScimIntegration) (string, error) {
	if scim.Status.Organization != "" {
		return scim.Status.Organization, nil
	}
	identity := &v1alpha1.EnterpriseIdentity{}
	err := r.Get(ctx, client.ObjectKey{Namespace: scim.Namespace, Name: scim.Spec.IdentityRef.Name}, identity)
	switch {
	case err == nil && identity.Spec.Organization != "":
		bound, err := r.Data.OrganizationBinding(ctx, identity.Spec.Organization)
		if err != nil {
			return "", err
		}
		if bound.Integration == string(scim.UID) {
			return identity.Spec.Organization, nil
		}
	case err != nil && !apierrors.IsNotFound(err):
		return "", err
	}
	return r.Data.OrganizationBoundTo(ctx, string(scim.UID))
}

func (r *ScimIntegrationReconciler) deleteData(ctx context.Context, scim *v1alpha1.ScimIntegration, claim *v1alpha1.OrganizationClaim) error {
	org := claim.Name
	err := deleteOrganizationData(ctx, r.Data, org, store.Binding{Claim: string(claim.UID), Integration: string(scim.UID)})
	if errors.Is(err, errDeletionUnderWay) {
		return err
	}
	var elsewhere *store.ServedElsewhereError
	if errors.As(err, &elsewhere) {
		// Another integration of the identity took the organization over while this one was
		// being deleted: the data is its now, and follows its deletionPolicy (its own finalizer
		// finds the organization through the binding even without a status).
		r.Recorder.Eventf(scim, nil, corev1.EventTypeNormal, EventDataKept, "Delete",
			"Kept the SCIM data of organization %s: another ScimIntegration of its EnterpriseIdentity serves it", org)
		ctrl.LoggerFrom(ctx).Info("Not deleting SCIM data another integration serves", "organization", org, "integration", elsewhere.Integration)
		return nil
	}
	var mismatch *store.ClaimMismatchError
	if errors.As(err, &mismatch) {
		ctrl.LoggerFrom(ctx).Info("Not deleting SCIM data owned by another claim", "organization", org, "owner", mismatch.Owner)
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting SCIM data of organization %s: %w", org, err)
	}
	r.Recorder.Eventf(scim, nil, corev1.EventTypeNormal, EventDataDeleted, "Delete",
		"Deleted the SCIM data of organization %s (deletionPolicy: Delete)", org)
	ctrl.LoggerFrom(ctx).Info("Deleted SCIM data of organization", "organization", org)
	// A claim released, or about to be (its identity deleted in the same sweep), has nothing left
	// to keep: the OrganizationClaim controller frees the slug (after its namespace's grace),
	// woken by this mark. It decides on the claim as it is then, holder and all; one taken over
	// meanwhile (a GitOps rename's new identity) is kept.
	patch := client.MergeFrom(claim.DeepCopy())
	if claim.Annotations == nil {
		claim.Annotations = map[string]string{}
	}
	claim.Annotations[v1alpha1.AnnotationDataDeletedAt] = r.Clock.Now().UTC().Format(time.RFC3339)
	if err := r.Patch(ctx, claim, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("marking OrganizationClaim %s: %w", org, err)
	}
	return nil
}

// mayDeleteData says whether a ScimIntegration may act on its organization's stored data: the
// claim must place the data in the integration's namespace and be held by the integration's own
// EnterpriseIdentity, or by nobody alive (released). Nothing in one namespace can reach data
// another namespace holds.
func mayDeleteData(ctx context.Context, c client.Reader, scim *v1alpha1.ScimIntegration, claim *v1alpha1.OrganizationClaim) bool {
	if claim == nil || claim.Spec.Namespace != scim.Namespace {
		return false
	}
	holder, err := claims.LiveHolder(ctx, c, claim)
	if err != nil {
		return false
	}
	return holder == nil || (holder.Namespace == scim.Namespace && holder.Name == scim.Spec.IdentityRef.Name)
}
