package tenant_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

const (
	acmeToken = "eio_scim_acme-token-0123456789abcdef0123456789abcdef"
	evilToken = "eio_scim_evil-token-0123456789abcdef0123456789abcdef"
)

// The data plane serves an organization only for the integration whose identity holds its claim,
// whatever the integrations' status says and in whichever order a starting replica registers
// them. No operator runs here, so the worst case stays in place: a hostile namespace's integration
// whose status names acme and records, as its token Secret, a Secret it wrote itself.
func TestOnlyTheClaimHolderIsServedInEitherOrder(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run through make test, which builds the control plane")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	acme := organization(ctx, t, k8s, "acme", "acme", acmeToken)
	organization(ctx, t, k8s, "evil", "x", evilToken)
	claim := &v1alpha1.OrganizationClaim{ObjectMeta: metav1.ObjectMeta{Name: "acme"}, Spec: v1alpha1.OrganizationClaimSpec{
		Namespace: "acme", Holder: &v1alpha1.ClaimHolder{Namespace: "acme", Name: "acme", UID: string(acme.UID)}}}
	must(t, k8s.Create(ctx, claim))

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0", Cache: secrets.CacheOptions()})
	must(t, err)
	must(t, index.Setup(ctx, mgr))
	go func() { _ = mgr.Start(ctx) }()
	mgr.GetCache().WaitForCacheSync(ctx)

	for _, order := range [][]types.NamespacedName{
		{{Namespace: "evil", Name: "x"}, {Namespace: "acme", Name: "acme"}},
		{{Namespace: "acme", Name: "acme"}, {Namespace: "evil", Name: "x"}},
	} {
		registry := tenant.NewRegistry()
		source := &tenant.Source{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Registry: registry}
		for _, k := range order {
			if _, err := source.Reconcile(ctx, ctrl.Request{NamespacedName: k}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := registry.Authenticate("acme", evilToken); err == nil {
			t.Fatalf("order %v: the hostile namespace's token is accepted for acme", order)
		}
		caller, err := registry.Authenticate("acme", acmeToken)
		if err != nil || caller.Organization.Integration != (types.NamespacedName{Namespace: "acme", Name: "acme"}) {
			t.Fatalf("order %v: acme is not served for its own integration (%v)", order, err)
		}
		// Its writes are fenced by the claim it holds and its integration (store.Write.Binding).
		acmeScim := &v1alpha1.ScimIntegration{}
		must(t, k8s.Get(ctx, types.NamespacedName{Namespace: "acme", Name: "acme"}, acmeScim))
		if want := (store.Binding{Claim: string(claim.UID), Integration: string(acmeScim.UID)}); caller.Organization.Binding != want || claim.UID == "" {
			t.Fatalf("order %v: acme is served under %+v, want %+v", order, caller.Organization.Binding, want)
		}
	}

	// A tenant writes its own spec.rateLimit: the installation's maximum lowers what it asks.
	registry := tenant.NewRegistry()
	limit := tenant.RateLimit{RequestsPerSecond: 50, Burst: 60}
	source := &tenant.Source{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Registry: registry, MaxRateLimit: limit}
	if _, err := source.Reconcile(ctx, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "acme", Name: "acme"}}); err != nil {
		t.Fatal(err)
	}
	caller, err := registry.Authenticate("acme", acmeToken)
	if err != nil || caller.Organization.RateLimit != limit {
		t.Fatalf("acme asks the default %d per second and is served at %+v, want the installation's %+v (%v)",
			tenant.DefaultRequestsPerSecond, caller.Organization.RateLimit, limit, err)
	}
}

// organization creates an EnterpriseIdentity for acme in ns and its ScimIntegration (both named
// name), with a labelled token Secret it controls and a status that names acme and records it.
func organization(ctx context.Context, t *testing.T, k8s client.Client, ns, name, plaintext string) *v1alpha1.EnterpriseIdentity {
	t.Helper()
	must(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	eid := &v1alpha1.EnterpriseIdentity{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.EnterpriseIdentitySpec{
		Organization: "acme", SSO: v1alpha1.SSOSpec{SAML: &v1alpha1.SAMLSpec{Metadata: "<EntityDescriptor/>"}}}}
	must(t, k8s.Create(ctx, eid))
	scim := &v1alpha1.ScimIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.ScimIntegrationSpec{IdentityRef: v1alpha1.LocalRef{Name: name}}}
	must(t, k8s.Create(ctx, scim))
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: v1alpha1.TokenSecretName(name),
		Labels: map[string]string{secrets.ManagedByLabel: secrets.ManagedByValue}},
		Data: map[string][]byte{v1alpha1.SecretKeySHA256: []byte(token.Hash(plaintext))}}
	must(t, controllerutil.SetControllerReference(scim, secret, k8s.Scheme()))
	must(t, k8s.Create(ctx, secret))
	scim.Status.Organization = "acme"
	scim.Status.Token = &v1alpha1.TokenStatus{SecretName: secret.Name, SecretUID: string(secret.UID)}
	must(t, k8s.Status().Update(ctx, scim))
	return eid
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
