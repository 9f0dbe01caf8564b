package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/claims"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// ClaimData is what the claim controller needs from the store: which claim owns an
// organization's data, and removing it.
type ClaimData interface {
	OrganizationOwner(ctx context.Context, organization string) (string, error)
	OrganizationBinding(ctx context.Context, organization string) (store.Binding, error)
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
	// ReleaseGrace is how long a released claim without data stays with its namespace, for the
	// namespace's next EnterpriseIdentity, before it is deleted (0: at once).
	ReleaseGrace time.Duration
	// Clock reads the time of releases (nil: the real clock).
	Clock clock.PassiveClock
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
	bound, err := r.Data.OrganizationBinding(ctx, claim.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	if bound.Deleting {
		// Its data is being deleted a part at a time (the leader finishes a deletion that
		// stopped): look again once it may be gone.
		return ctrl.Result{RequeueAfter: deletingDataRetry}, nil
	}
	if bound.Claim != "" {
		return ctrl.Result{}, nil // retained data keeps the organization with its namespace
	}
	// Released a moment ago, or an identity of the claim's own namespace names the slug: the
	// namespace is replacing its EnterpriseIdentity (a rename, a GitOps replace, the namespace
	// created again), and the replacement takes the claim over. Freed now, the slug would go to
	// the oldest claimant anywhere, perhaps another tenant's identity waiting for exactly this.
	if left := r.graceLeft(claim); left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	if waiting, err := r.claimantInNamespace(ctx, claim); err != nil || waiting {
		return ctrl.Result{RequeueAfter: heldClaimRetry}, err
	}
	if err := r.Delete(ctx, claim, client.Preconditions{UID: &claim.UID, ResourceVersion: &claim.ResourceVersion}); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("deleting released OrganizationClaim %s: %w", claim.Name, err)
	}
	ctrl.LoggerFrom(ctx).Info("Freed a released organization with no data", "organization", claim.Name)
	return ctrl.Result{}, nil
}

// deletingDataRetry is how soon a released claim whose data is being deleted is looked at again.
const deletingDataRetry = 10 * time.Second

// graceLeft is how long the claim, released without data, still stays with its namespace (0: no
// longer, or released before releases were stamped).
func (r *OrganizationClaimReconciler) graceLeft(claim *v1alpha1.OrganizationClaim) time.Duration {
	at, err := time.Parse(time.RFC3339, claim.Annotations[v1alpha1.AnnotationReleasedAt])
	if err != nil || r.ReleaseGrace <= 0 {
		return 0
	}
	now := time.Now()
	if r.Clock != nil {
		now = r.Clock.Now()
	}
	if at.Sub(now) > r.ReleaseGrace {
		return 0 // stamped by a clock far ahead of this one: not worth waiting for
	}
	return min(at.Add(r.ReleaseGrace).Sub(now), r.ReleaseGrace)
}

// claimantInNamespace says whether an EnterpriseIdentity of the claim's namespace, not being
// deleted and not refused for its namespace's limit, names the claim's organization.
func (r *OrganizationClaimReconciler) claimantInNamespace(ctx context.Context, claim *v1alpha1.OrganizationClaim) (bool, error) {
	list := &v1alpha1.EnterpriseIdentityList{}
	if err := r.List(ctx, list, client.InNamespace(claim.Spec.Namespace), client.MatchingFields{index.Organization: claim.Name}); err != nil {
		return false, fmt.Errorf("listing claimants of organization %s: %w", claim.Name, err)
	}
	for i := range list.Items {
		c := &list.Items[i]
		if c.DeletionTimestamp.IsZero() && !isConditionReason(c.Status.Conditions, v1alpha1.ConditionReady, v1alpha1.ReasonNamespaceOrganizationLimit) {
			return true, nil
		}
	}
	return false, nil
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
		if err := deleteOrganizationData(ctx, r.Data, claim.Name, store.Binding{Claim: owner}); errors.Is(err, errDeletionUnderWay) {
			return ctrl.Result{RequeueAfter: deletionRetry}, nil
		} else if err != nil {
			return ctrl.Result{}, fmt.Errorf("deleting the data of organization %s: %w", claim.Name, err)
		}
		r.Recorder.Eventf(claim, nil, corev1.EventTypeNormal, EventDataDeleted, "Delete", "Deleted the retained data of organization %s", claim.Name)
		ctrl.LoggerFrom(ctx).Info("Deleted the data of a deleted OrganizationClaim", "organization", claim.Name)
	}
	return ctrl.Result{}, removeFinalizer(ctx, r.Client, nil, claim, v1alpha1.FinalizerOrganizationData)
}

// SetupWithManager registers the controller; a released holder's deletion wakes its claim.
func (r *OrganizationClaimReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.OrganizationClaim{}).
		Named("organizationclaim").
		Complete(r)
}
