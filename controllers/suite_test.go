package controllers_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/controllers"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// These suites run the controllers in a manager against a real kube-apiserver and etcd
// (KUBEBUILDER_ASSETS, set by make test from hack/control-plane.sh).

var (
	ctx       context.Context
	cancel    context.CancelFunc
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8s       client.Client
	scheme    = runtime.NewScheme()
	fakeClock = clocktesting.NewFakeClock(time.Now())
	dataPlane = &servedOrganizations{served: map[string]bool{}}
	scimData  = &deletedOrganizations{}
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	Expect(os.Getenv("KUBEBUILDER_ASSETS")).NotTo(BeEmpty(), "run through make test, which builds the control plane")

	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, Cache: secrets.CacheOptions()})
	Expect(err).NotTo(HaveOccurred())
	Expect(index.Setup(ctx, mgr)).To(Succeed())
	names, err := secrets.Setup(mgr)
	Expect(err).NotTo(HaveOccurred())
	Expect((&controllers.EnterpriseIdentityReconciler{
		Client:          mgr.GetClient(),
		Recorder:        mgr.GetEventRecorder("enterpriseidentity-controller"),
		Clock:           fakeClock,
		HTTPClient:      &http.Client{Timeout: 5 * time.Second},
		RecheckInterval: time.Hour,
		APIReader:       mgr.GetAPIReader(),
		SecretNames:     names,
	}).SetupWithManager(mgr)).To(Succeed())
	Expect((&controllers.ScimIntegrationReconciler{
		Client:               mgr.GetClient(),
		Recorder:             mgr.GetEventRecorder("scimintegration-controller"),
		Clock:                fakeClock,
		ExternalURL:          "http://127.0.0.1:8080",
		DataPlaneService:     "eio.operators.svc.cluster.local",
		DataPlaneServicePort: 8080,
		DataPlane:            dataPlane,
		Data:                 scimData,
		APIReader:            mgr.GetAPIReader(),
		SecretNames:          names,
		MaxRateLimit:         tenant.RateLimit{RequestsPerSecond: 1000, Burst: 2000},
	}).SetupWithManager(mgr)).To(Succeed())
	Expect((&controllers.OrganizationClaimReconciler{
		Client:       mgr.GetClient(),
		Recorder:     mgr.GetEventRecorder("organizationclaim-controller"),
		Data:         scimData,
		Clock:        fakeClock,
		ReleaseGrace: 10 * time.Minute,
	}).SetupWithManager(mgr)).To(Succeed())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	cancel()
	Expect(testEnv.Stop()).To(Succeed())
})

// servedOrganizations stands in for the data plane's tenant registry, which lives in the SCIM
// data plane; the controller only asks it whether an organization is served.
type servedOrganizations struct {
	mu     sync.Mutex
	served map[string]bool
}

func (s *servedOrganizations) ServingFor(org string, _ types.NamespacedName) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[org]
}

func (s *servedOrganizations) set(org string, serving bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.served[org] = serving
}

// deletedOrganizations records which organizations' SCIM data the finalizer deleted; it has no
// members (the store's own behaviour is tested against real databases in internal/store).
type deletedOrganizations struct {
	mu       sync.Mutex
	orgs     []string
	owners   map[string]store.Binding
	held     map[string]int64
	failures map[string]int64
	// unavailable makes deleting these organizations fail, as an unreachable database would.
	unavailable map[string]bool
	// onBind runs when an organization's binding changes (tests deleting an integration then).
	onBind map[string]func(store.Binding)
	// changes counts what the tests changed per organization: its activity mark.
	changes map[string]int64
	// serving is what was recorded per organization (RecordServing).
	serving map[string]store.Serving
}

// RecordServing follows the store's rule (tested against real databases by the conformance
// suite): recorded only while the organization is bound as b says.
func (d *deletedOrganizations) RecordServing(_ context.Context, org string, b store.Binding, serving store.Serving) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.owners[org] != b {
		return nil
	}
	if d.serving == nil {
		d.serving = map[string]store.Serving{}
	}
	serving.Tokens = slices.Clone(serving.Tokens)
	d.serving[org] = serving
	return nil
}

// recordedTokens returns what an organization's tokens were last recorded as.
func (d *deletedOrganizations) recordedTokens(org string) func() []string {
	return func() []string {
		d.mu.Lock()
		defer d.mu.Unlock()
		return slices.Clone(d.serving[org].Tokens)
	}
}

// recordedDisabled returns whether an organization's integration was last recorded as switched off.
func (d *deletedOrganizations) recordedDisabled(org string) func() bool {
	return func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.serving[org].Disabled
	}
}

func (d *deletedOrganizations) ActivityMark(_ context.Context, org string) (store.ActivityMark, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return store.ActivityMark{Seq: d.changes[org]}, nil
}

// changed moves an organization's activity mark; the caller holds mu.
func (d *deletedOrganizations) changed(org string) {
	if d.changes == nil {
		d.changes = map[string]int64{}
	}
	d.changes[org]++
}

func (d *deletedOrganizations) HeldDeprovisions(_ context.Context, org string) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.held[org], nil
}

func (d *deletedOrganizations) setHeld(org string, n int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.held == nil {
		d.held = map[string]int64{}
	}
	d.held[org] = n
	d.changed(org)
}

func (d *deletedOrganizations) DeleteOrganization(_ context.Context, org string, b store.Binding) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unavailable[org] {
		return errors.New("the database is unavailable")
	}
	bound := d.owners[org]
	if bound.Claim != "" && bound.Claim != b.Claim {
		return &store.ClaimMismatchError{Organization: org, Owner: bound.Claim}
	}
	if b.Integration != "" && bound.Integration != "" && bound.Integration != b.Integration {
		return &store.ServedElsewhereError{Organization: org, Integration: bound.Integration}
	}
	delete(d.owners, org)
	d.orgs = append(d.orgs, org)
	return nil
}

// setUnavailable makes deleting org fail (on) or work again (off).
func (d *deletedOrganizations) setUnavailable(org string, on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unavailable == nil {
		d.unavailable = map[string]bool{}
	}
	d.unavailable[org] = on
}

// BindOrganization and OrganizationOwner follow the store's rule (tested against real
// databases by the conformance suite): the first claim owns the data.
func (d *deletedOrganizations) BindOrganization(_ context.Context, org string, b store.Binding, adoptFrom string) error {
	d.mu.Lock()
	if d.owners == nil {
		d.owners = map[string]store.Binding{}
	}
	if d.owners[org].Deleting {
		d.mu.Unlock()
		return store.ErrOrganizationBeingDeleted
	}
	if owner := d.owners[org].Claim; owner != "" && owner != b.Claim && owner != adoptFrom {
		d.mu.Unlock()
		return &store.ClaimMismatchError{Organization: org, Owner: owner}
	}
	moved := d.owners[org] != b
	d.owners[org] = b
	if moved {
		delete(d.serving, org) // as the store forgets what was recorded under the binding before
	}
	hook := d.onBind[org]
	d.mu.Unlock()
	if moved && hook != nil {
		hook(b)
	}
	return nil
}

// setBeingDeleted makes org's earlier data being deleted (on: another claim's, marked), or
// deleted (off).
func (d *deletedOrganizations) setBeingDeleted(org string, on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.owners == nil {
		d.owners = map[string]store.Binding{}
	}
	if on {
		d.owners[org] = store.Binding{Claim: "an-earlier-claim", Integration: "an-earlier-integration", Deleting: true}
	} else {
		delete(d.owners, org)
	}
}

// setOnBind runs f (outside the lock) each time org's binding changes; nil stops it.
func (d *deletedOrganizations) setOnBind(org string, f func(store.Binding)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.onBind == nil {
		d.onBind = map[string]func(store.Binding){}
	}
	d.onBind[org] = f
}

func (d *deletedOrganizations) OrganizationOwner(_ context.Context, org string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.owners[org].Claim, nil
}

func (d *deletedOrganizations) OrganizationBoundTo(_ context.Context, integration string) (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	bound := ""
	for org, b := range d.owners {
		if integration != "" && b.Integration == integration {
			if bound != "" {
				return "", nil // several, as the store answers
			}
			bound = org
		}
	}
	return bound, nil
}

func (d *deletedOrganizations) OrganizationBinding(_ context.Context, org string) (store.Binding, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.owners[org], nil
}

func (d *deletedOrganizations) MemberCounts(context.Context, string) (map[string]int64, error) {
	return nil, nil
}

func (d *deletedOrganizations) AuditEvents(_ context.Context, org string, q store.AuditQuery) ([]store.AuditEvent, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !q.Failed {
		return nil, nil
	}
	var out []store.AuditEvent
	for i := int64(0); i < d.failures[org]; i++ {
		out = append(out, store.AuditEvent{Status: 401, Detail: "A valid bearer token for this organization is required"})
	}
	return out, nil
}

func (d *deletedOrganizations) List(context.Context, string, store.Kind, store.Query) (*store.Page, error) {
	return &store.Page{}, nil
}

func (d *deletedOrganizations) setFailures(org string, n int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failures == nil {
		d.failures = map[string]int64{}
	}
	d.failures[org] = n
	d.changed(org)
}

func (d *deletedOrganizations) deleted() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.orgs...)
}
