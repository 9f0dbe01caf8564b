package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/claims"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// ClaimData is what the claim controller needs from the store: which claim owns an
// organization's data, and removing it.
type ClaimData interface {
	OrganizationOwner(ctx context.Context, organization string) (string, error)
	DeleteOrganization(ctx context.Context, organization string, b store.Binding) error
}

// OrganizationClaimReconciler frees organization slugs nobody needs any more: a released claim
// with no data in the store is deleted; a claim a cluster administrator deletes takes the data
// it owns with it, once no EnterpriseIdentity holds it.
type OrganizationClaimReconciler struct {
	client.Client
	Recorder events.EventRecorder
	// Data is the store; nil when none is configured (then every claim is kept).
	Data ClaimData
}

// heldClaimRetry is how often a deleted claim that is still held is looked at again.
const heldClaimRetry = 30 * time.Second

// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=organizationclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=organizationclaims/finalizers,verbs=update

// Reconcile deletes released claims without data, and the data of deleted claims.
func (r *OrganizationClaimReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	claim, err := claims.Get(ctx, r.Client, req.Name)
	if err != nil || claim == nil || r.Data == nil {
		return ctrl.Result{}, err
	}
	holder, err := claims.LiveHolder(ctx, r.Client, claim)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !claim.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, claim, holder)
	}
	if holder != nil {
		return ctrl.Result{}, nil
	}
	owner, err := r.Data.OrganizationOwner(ctx, claim.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	if owner != "" {
		return ctrl.Result{}, nil // retained data keeps the organization with its namespace
	}
	if err := r.Delete(ctx, claim, client.Preconditions{UID: &claim.UID, ResourceVersion: &claim.ResourceVersion}); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("deleting released OrganizationClaim %s: %w", claim.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Freed a released organization with no data", "organization", claim.Name)
	return ctrl.Result{}, nil
}

// finalize deletes the data a deleted claim owns, but only once nobody holds it: deleting the
// claim of a live organization waits until its EnterpriseIdentity is deleted.
func (r *OrganizationClaimReconciler) finalize(
	ctx context.Context, claim *v1alpha1.OrganizationClaim, holder *v1alpha1.EnterpriseIdentity,
) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(claim, v1alpha1.FinalizerOrganizationData) {
		return ctrl.Result{}, nil
	}
	if holder != nil {
		r.Recorder.Eventf(claim, nil, corev1.EventTypeWarning, EventConflict, "Delete",
			"Organization %s is still held by EnterpriseIdentity %s/%s; its data is deleted once that is deleted", claim.Name, holder.Namespace, holder.Name)
		return ctrl.Result{RequeueAfter: heldClaimRetry}, nil
	}
	owner, err := r.Data.OrganizationOwner(ctx, claim.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	if owner == string(claim.UID) {
		if err := r.Data.DeleteOrganization(ctx, claim.Name, store.Binding{Claim: owner}); err != nil {
			return ctrl.Result{}, fmt.Errorf("deleting the data of organization %s: %w", claim.Name, err)
		}
		r.Recorder.Eventf(claim, nil, corev1.EventTypeNormal, EventDataDeleted, "Delete", "Deleted the retained data of organization %s", claim.Name)
		ctrl.LoggerFrom(ctx).Info("Deleted the data of a deleted OrganizationClaim", "organization", claim.Name)
	}
	return ctrl.Result{}, removeFinalizer(ctx, r.Client, claim, v1alpha1.FinalizerOrganizationData)
}

// SetupWithManager registers the controller; a released holder's deletion wakes its claim.
func (r *OrganizationClaimReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.OrganizationClaim{}).
		Named("organizationclaim").
		Complete(r)
}
