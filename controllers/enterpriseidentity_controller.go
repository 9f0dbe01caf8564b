package controllers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
)

// EnterpriseIdentityReconciler validates an organization's SSO configuration and its claim on
// the organization slug.
type EnterpriseIdentityReconciler struct {
	client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// HTTPClient fetches OIDC discovery documents and SAML metadata; it must have a timeout.
	HTTPClient *http.Client
	// RecheckInterval is how often a valid configuration is validated again.
	RecheckInterval time.Duration
	// APIReader reads the Secrets tenants reference, which the manager does not cache; nil reads
	// through Client.
	// It also reads the finalizers the controller patches, which the manager's cache keeps only
	// its own of (finalizers.go); nil takes them from the cached object, right only with a cache
	// that keeps them all.
	APIReader client.Reader
	// SecretNames tells which Secrets changed (names only); nil watches none.
	SecretNames *secrets.Names
	// MaxOrganizationsPerNamespace bounds the organizations one namespace's identities hold
	// (enterpriseidentity_limit.go); zero bounds nothing.
	MaxOrganizationsPerNamespace int

	// limits holds the places reserved by identities about to claim (enterpriseidentity_limit.go).
	limits namespaceReservations
	// ssoTurns bounds the SSO checks one namespace runs at once (enterpriseidentity_sso_turns.go).
	ssoTurns ssoTurns
}

// identityScope carries one reconciliation of an EnterpriseIdentity through its steps.
type identityScope struct {
	identity *v1alpha1.EnterpriseIdentity
	// ssoErr is the validation failure, returned at the end so the pass is retried with backoff.
	ssoErr error
	// conflict, when set, says why this identity does not hold its organization (conflictReason).
	conflict       string
	conflictReason string
	requeue        requeue
	// deferred says the pass stopped before validating (its namespace's SSO checks were all
	// running): it did not reconcile the spec, so observedGeneration stays.
	deferred bool
}

// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=enterpriseidentities,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=enterpriseidentities/finalizers,verbs=update
// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=organizationclaims,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=enterpriseidentities/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile validates SSO, settles who owns the organization slug and reports both as conditions.
func (r *EnterpriseIdentityReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, reterr error) {
	identity := &v1alpha1.EnterpriseIdentity{}
	if err := r.Get(ctx, req.NamespacedName, identity); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !identity.DeletionTimestamp.IsZero() {
		r.limits.release(identity.Namespace, identity.UID)
		return ctrl.Result{}, r.releaseOrganization(ctx, identity)
	}
	// Finalizer first, in its own write, so no claim exists that nobody releases.
	if added, err := addFinalizer(ctx, r.Client, r.APIReader, identity, v1alpha1.FinalizerOrganizationClaim); added || err != nil {
		return ctrl.Result{}, err
	}
	original := identity.DeepCopy()
	s := &identityScope{identity: identity}
	defer func() {
		err := r.patchStatus(ctx, original, identity, reterr == nil && s.ssoErr == nil && !s.deferred)
		switch {
		case apierrors.IsConflict(err):
			// Read from a stale cache; the next pass sees the latest object.
			result, reterr = ctrl.Result{RequeueAfter: conflictRetry}, nil
		case err != nil && reterr == nil:
			reterr = err
		}
	}()

	err := runSteps(ctx, s,
		r.checkNamespaceLimit, // before SSO: an identity past the limit costs no identity provider a request
		r.validateSSO,
		r.claimOrganization,
	)
	if s.conflict != "" && s.conflictReason != v1alpha1.ReasonNamespaceOrganizationLimit {
		r.limits.release(identity.Namespace, identity.UID) // another holds its organization: its place is free
	}
	// Ready is set once per pass: True then False in one pass would stamp a new transition time.
	switch {
	case s.conflict != "":
		setCondition(&identity.Status.Conditions, identity.Generation, v1alpha1.ConditionReady, false, s.conflictReason, s.conflict)
	case s.deferred:
		// Stopped before its SSO check and its claim: Ready stays what the last pass found,
		// unless it has none yet or says the namespace's limit refused it (which it passed now,
		// and which other claimants of its slug would read as "not waiting").
		if c := meta.FindStatusCondition(identity.Status.Conditions, v1alpha1.ConditionReady); c == nil ||
			c.Reason == v1alpha1.ReasonNamespaceOrganizationLimit {
			setCondition(&identity.Status.Conditions, identity.Generation, v1alpha1.ConditionReady, false, v1alpha1.ReasonReconciling,
				"Waiting for a turn to check SSO with the identity provider")
		}
	default:
		summarizeReady(&identity.Status.Conditions, identity.Generation, v1alpha1.ConditionSSOReady)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if s.ssoErr != nil {
		// Retried with the controller's exponential backoff; the condition already says why.
		return ctrl.Result{}, fmt.Errorf("validating SSO: %w", s.ssoErr)
	}
	if s.requeue.after > 0 {
		return ctrl.Result{RequeueAfter: s.requeue.after}, nil
	}
	return ctrl.Result{RequeueAfter: r.untilRecheck(identity)}, nil
}

// untilRecheck is how long until the SSO configuration is due to be validated again: the recheck
// interval after status.sso.lastValidatedAt, so a pass woken early does not push the recheck out.
func (r *EnterpriseIdentityReconciler) untilRecheck(identity *v1alpha1.EnterpriseIdentity) time.Duration {
	if identity.Status.SSO == nil || identity.Status.SSO.LastValidatedAt == nil {
		return r.RecheckInterval
	}
	return max(identity.Status.SSO.LastValidatedAt.Add(r.RecheckInterval).Sub(r.Clock.Now()), time.Second)
}

// patchStatus writes status once, only when it changed; observedGeneration only moves when the
// pass succeeded.
func (r *EnterpriseIdentityReconciler) patchStatus(ctx context.Context, original, identity *v1alpha1.EnterpriseIdentity, succeeded bool) error {
	if succeeded {
		identity.Status.ObservedGeneration = identity.Generation
	}
	keepTransitionTimes(original.Status.Conditions, identity.Status.Conditions)
	if equality.Semantic.DeepEqual(original.Status, identity.Status) {
		return nil
	}
	err := r.Status().Patch(ctx, identity, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("updating status of EnterpriseIdentity %s/%s: %w", identity.Namespace, identity.Name, err)
	}
	return nil
}

// SetupWithManager registers the controller. A change of an OrganizationClaim wakes every
// EnterpriseIdentity naming its organization, so a released slug passes to the next claimant of
// its namespace and the others learn who holds it. Its own status writes do not wake it
// (notStatusOnly): the next pass is the recheck, or a change of something it reads.
func (r *EnterpriseIdentityReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.EnterpriseIdentity{}, builder.WithPredicates(notStatusOnly()))
	if r.SecretNames != nil {
		b = b.WatchesRawSource(r.SecretNames.Source(r.usingClientSecret))
	}
	return b.
		Watches(&v1alpha1.OrganizationClaim{}, handler.EnqueueRequestsFromMapFunc(r.claimantsOf)).
		Named("enterpriseidentity").
		WithOptions(controller.Options{MaxConcurrentReconciles: 8}). // a slow identity provider holds one worker, not every organization
		Complete(r)
}

// usingClientSecret wakes the identities whose OIDC client secret is this Secret.
func (r *EnterpriseIdentityReconciler) usingClientSecret(ctx context.Context, namespace, name string) []reconcile.Request {
	list := &v1alpha1.EnterpriseIdentityList{}
	if err := r.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{index.ClientSecret: name}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing EnterpriseIdentities using a client secret")
		return nil
	}
	requests := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return requests
}

func (r *EnterpriseIdentityReconciler) claimantsOf(ctx context.Context, obj client.Object) []reconcile.Request {
	claimants := &v1alpha1.EnterpriseIdentityList{}
	if err := r.List(ctx, claimants, client.MatchingFields{index.Organization: obj.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing claimants of an organization", "organization", obj.GetName())
		return nil
	}
	requests := make([]reconcile.Request, 0, len(claimants.Items))
	for i := range claimants.Items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&claimants.Items[i])})
	}
	// A claim of a namespace changed: one it released may let an identity refused for the
	// namespace's limit claim its organization.
	if claim, ok := obj.(*v1alpha1.OrganizationClaim); ok {
		for _, key := range r.limitedIn(ctx, claim.Spec.Namespace) {
			requests = append(requests, reconcile.Request{NamespacedName: key})
		}
	}
	return requests
}
