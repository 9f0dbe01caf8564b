package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
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
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// DataPlane is what the controller needs from the SCIM data plane: whether it serves an
// organization now, for this integration. The data plane fills its tenant registry from the
// manager's cache; the controller only reads the outcome, so the two evolve independently.
type DataPlane interface {
	ServingFor(organization string, integration types.NamespacedName) bool
}

// OrganizationData is what the controller needs from the store: which claim owns an
// organization's data, the provisioning summary for status, and removing the data when a
// ScimIntegration with deletionPolicy Delete goes away.
type OrganizationData interface {
	ClaimData
	BindOrganization(ctx context.Context, organization string, b store.Binding, adoptFrom string) error
	OrganizationBinding(ctx context.Context, organization string) (store.Binding, error)
	RecordServing(ctx context.Context, organization string, b store.Binding, serving store.Serving) error
	OrganizationBoundTo(ctx context.Context, integration string) (string, error)
	MemberCounts(ctx context.Context, organization string) (map[string]int64, error)
	HeldDeprovisions(ctx context.Context, organization string) (int64, error)
	List(ctx context.Context, organization string, kind store.Kind, q store.Query) (*store.Page, error)
	AuditEvents(ctx context.Context, organization string, q store.AuditQuery) ([]store.AuditEvent, error)
	ActivityMark(ctx context.Context, organization string) (store.ActivityMark, error)
}

// ScimIntegrationReconciler turns a ScimIntegration into a token Secret, a base URL, an optional
// Ingress, and conditions saying whether the organization's SCIM endpoint can be used.
type ScimIntegrationReconciler struct {
	client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// ExternalURL is where the data plane is reached when no Ingress is asked for, for example
	// http://127.0.0.1:8080.
	ExternalURL string
	// DataPlaneService is the in-cluster DNS name and port of the data plane Service that
	// per-organization Ingresses route to.
	DataPlaneService     string
	DataPlaneServicePort int32
	// DataPlane reports whether the organization is served; nil when this manager runs none.
	DataPlane DataPlane
	// Data deletes an organization's SCIM data; nil when no store is configured.
	Data OrganizationData
	// APIReader reads bring-your-own token Secrets, which the manager does not cache; nil reads
	// through Client.
	// It also reads the finalizers the controller patches, which the manager's cache keeps only
	// its own of (finalizers.go); nil takes them from the cached object, right only with a cache
	// that keeps them all.
	APIReader client.Reader
	// SecretNames tells which Secrets changed (names only); nil watches none.
	SecretNames *secrets.Names
	// Metrics receives the provisioning summary's counts for /metrics; nil exports none.
	Metrics *ProvisioningMetrics
	// MaxRateLimit is the most any organization is served at, whatever its spec.rateLimit asks
	// (the data plane's tenant.Source applies the same); zero caps nothing.
	MaxRateLimit tenant.RateLimit

	// summaries skips the summary of organizations whose store saw nothing new.
	summaries summaryMarks
}

// scimScope carries one reconciliation of a ScimIntegration through its steps.
type scimScope struct {
	scim     *v1alpha1.ScimIntegration
	identity *v1alpha1.EnterpriseIdentity
	// claim is the identity's OrganizationClaim, once the identity is known to hold it.
	claim   *v1alpha1.OrganizationClaim
	requeue requeue
	// endpointChecked: the pass reached the endpoint step.
	endpointChecked bool
	// tokens are the fingerprints of the tokens the integration accepts, once the token step
	// knows them (recorded with whether it is switched on: recordServing).
	tokens []string
}

func (s *scimScope) setCondition(typ string, ok bool, reason, message string) {
	setCondition(&s.scim.Status.Conditions, s.scim.Generation, typ, ok, reason, message)
}

// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=scimintegrations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=scimintegrations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=scimintegrations/finalizers,verbs=update
// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=roletemplates,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;update;patch;delete

// Reconcile runs the ordered steps: finalizer, SSO gate, organization claim, token, endpoint.
func (r *ScimIntegrationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, reterr error) {
	scim := &v1alpha1.ScimIntegration{}
	if err := r.Get(ctx, req.NamespacedName, scim); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !scim.DeletionTimestamp.IsZero() {
		if err := r.finalize(ctx, scim); errors.Is(err, errDeletionUnderWay) {
			return ctrl.Result{RequeueAfter: deletionRetry}, nil // another pass, its worker free meanwhile
		} else if err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, nil
	}
	// Finalizer first, in its own write, so no external state exists without it.
	if added, err := addFinalizer(ctx, r.Client, r.APIReader, scim, v1alpha1.FinalizerSCIMData); added || err != nil {
		return ctrl.Result{}, err
	}

	original := scim.DeepCopy()
	s := &scimScope{scim: scim}
	defer func() {
		err := r.patchStatus(ctx, original, scim, reterr == nil)
		switch {
		case apierrors.IsConflict(err):
			// Read from a stale cache; the next pass sees the latest object.
			result, reterr = ctrl.Result{RequeueAfter: conflictRetry}, nil
		case err != nil && reterr == nil:
			reterr = err
		}
	}()

	err := runSteps(ctx, s,
		r.checkRateLimit, // the spec and the flags alone: true whatever the later steps meet
		r.resolveIdentity,
		r.claimIdentity,
		r.bindData,
		r.reconcileToken,
		r.recordServing,
		r.checkPolicy,
		r.reconcileEndpoint,
		r.reconcileSummary,
	)
	if c := meta.FindStatusCondition(scim.Status.Conditions, v1alpha1.ConditionEndpointReady); !s.endpointChecked && c != nil &&
		c.Status == metav1.ConditionTrue {
		// An EndpointReady=True left from an earlier pass would say the endpoint serves while an
		// earlier step (the identity gone, the token broken) stops the integration.
		s.setCondition(v1alpha1.ConditionEndpointReady, false, v1alpha1.ReasonNotChecked,
			"Not checked while an earlier step stops this integration (see Ready)")
	}
	summarizeReady(&scim.Status.Conditions, scim.Generation,
		v1alpha1.ConditionSSOReady, v1alpha1.ConditionTokenIssued, v1alpha1.ConditionPolicyReady, v1alpha1.ConditionEndpointReady)
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: s.requeue.after}, nil
}

func (r *ScimIntegrationReconciler) patchStatus(ctx context.Context, original, scim *v1alpha1.ScimIntegration, succeeded bool) error {
	if succeeded {
		scim.Status.ObservedGeneration = scim.Generation
	}
	keepTransitionTimes(original.Status.Conditions, scim.Status.Conditions)
	if equality.Semantic.DeepEqual(original.Status, scim.Status) {
		return nil
	}
	err := r.Status().Patch(ctx, scim, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("updating status of ScimIntegration %s/%s: %w", scim.Namespace, scim.Name, err)
	}
	return nil
}

// SetupWithManager registers the controller with its watches: owned Secrets, Services and
// Ingresses; bring-your-own token Secrets and EnterpriseIdentities through field indexes. Status
// writes of ScimIntegrations wake nothing (notStatusOnly); an EnterpriseIdentity's status does,
// since SSOReady is read from it.
func (r *ScimIntegrationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ScimIntegration{}, builder.WithPredicates(notStatusOnly()))
	if r.SecretNames != nil {
		b = b.WatchesRawSource(r.SecretNames.Source(r.integrationsUsingSecret))
	}
	return b.
		Owns(&corev1.Secret{}).
		Owns(&corev1.Service{}).
		Owns(&networkingv1.Ingress{}).
		Watches(&v1alpha1.EnterpriseIdentity{}, handler.EnqueueRequestsFromMapFunc(r.integrationsOfIdentity)).
		Watches(&v1alpha1.OrganizationClaim{}, handler.EnqueueRequestsFromMapFunc(r.integrationsOfClaim)).
		Watches(&v1alpha1.ScimIntegration{}, handler.EnqueueRequestsFromMapFunc(r.integrationsOfSameIdentity), builder.WithPredicates(notStatusOnly())).
		Watches(&v1alpha1.RoleTemplate{}, handler.EnqueueRequestsFromMapFunc(r.integrationsInNamespace)).
		Named("scimintegration").
		// Several workers: one organization's slow summary (millions of members) or a tenant's
		// burst of wake-ups holds one of them, not every organization's token and endpoint work.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(r)
}

func (r *ScimIntegrationReconciler) integrationsUsingSecret(ctx context.Context, namespace, name string) []reconcile.Request {
	return r.listRequests(ctx, namespace, index.TokenSecretRef, name, nil)
}

// readerOr is the uncached reader when there is one.
func readerOr(api client.Reader, cached client.Client) client.Reader {
	if api != nil {
		return api
	}
	return cached
}

func (r *ScimIntegrationReconciler) integrationsOfIdentity(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.listRequests(ctx, obj.GetNamespace(), index.IdentityRef, obj.GetName(), nil)
}

// integrationsOfClaim wakes the integrations of the claim's namespace and of its holder's
// (they differ for a moment after a cluster administrator moves an organization).
func (r *ScimIntegrationReconciler) integrationsOfClaim(ctx context.Context, obj client.Object) []reconcile.Request {
	claim, ok := obj.(*v1alpha1.OrganizationClaim)
	if !ok {
		return nil
	}
	var out []reconcile.Request
	namespaces := []string{claim.Spec.Namespace}
	if h := claim.Spec.Holder; h != nil && h.Namespace != claim.Spec.Namespace {
		namespaces = append(namespaces, h.Namespace)
	}
	for _, ns := range namespaces {
		list := &v1alpha1.ScimIntegrationList{}
		if err := r.List(ctx, list, client.InNamespace(ns)); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing ScimIntegrations of a claim", "organization", claim.Name)
			continue
		}
		for i := range list.Items {
			if list.Items[i].Status.Organization == claim.Name || list.Items[i].Status.Organization == "" {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
		}
	}
	return out
}

// integrationsOfSameIdentity wakes the other integrations of an organization, so one released
// by deletion passes to the next.
func (r *ScimIntegrationReconciler) integrationsOfSameIdentity(ctx context.Context, obj client.Object) []reconcile.Request {
	scim, ok := obj.(*v1alpha1.ScimIntegration)
	if !ok {
		return nil
	}
	return r.listRequests(ctx, scim.Namespace, index.IdentityRef, scim.Spec.IdentityRef.Name, scim)
}

// integrationsInNamespace wakes the integrations that may name a RoleTemplate.
func (r *ScimIntegrationReconciler) integrationsInNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &v1alpha1.ScimIntegrationList{}
	if err := r.List(ctx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	requests := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return requests
}

func (r *ScimIntegrationReconciler) listRequests(ctx context.Context, namespace, field, value string, except client.Object) []reconcile.Request {
	list := &v1alpha1.ScimIntegrationList{}
	if err := r.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{field: value}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing ScimIntegrations", "index", field)
		return nil
	}
	requests := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		if except != nil && list.Items[i].Name == except.GetName() {
			continue
		}
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return requests
}
