// Package e2e runs the whole operator as the binary assembles it — controllers, tenant registry,
// SCIM server and SQLite store — against a real kube-apiserver, drives it the way a platform team
// and an identity provider do (kubectl apply, then SCIM over HTTP), and watches the results.
package e2e

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/operator"
	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// system is the operator running against a real API server, as the binary assembles it.
type system struct {
	ctx        context.Context
	env        *envtest.Environment
	k8s        client.Client
	st         store.Store
	baseURL    string
	kubeconfig string
	// probeURL serves /healthz and /readyz; closeStore closes the store once.
	probeURL   string
	closeStore func()
}

// start runs envtest and the operator on SQLite (on PostgreSQL when the test says so with
// onPostgres; see stores_test.go) (proxy headers trusted from 127.0.0.1 for the admin API;
// configure may change the options), stopping both when the test ends.
func start(t *testing.T, configure ...func(*operator.Options)) *system {
	t.Helper()
	g := NewWithT(t)
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run through make test, which builds the control plane")
	}
	// EIO_E2E_LOG=1 shows the operator's log, to follow a failing test.
	logOut := io.Discard
	if os.Getenv("EIO_E2E_LOG") != "" {
		logOut = os.Stderr
	}
	logf.SetLogger(zap.New(zap.WriteTo(logOut), zap.UseDevMode(true)))
	ctx, cancel := context.WithCancel(context.Background())
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { cancel(); _ = env.Stop() })

	scheme := runtime.NewScheme()
	g.Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	g.Expect(v1alpha1.AddToScheme(scheme)).To(Succeed())
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())

	st := openTestStore(t, ctx)
	closeStore := sync.OnceFunc(func() { _ = st.Close() })
	t.Cleanup(closeStore)

	addr := freeAddress(t)
	probe := freeAddress(t)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: probe,
		Cache: secrets.CacheOptions(),
		// Each test runs its own manager in this process; controller names repeat by design.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)}})
	g.Expect(err).NotTo(HaveOccurred())
	opts := operator.Options{
		BindAddress: addr, ExternalURL: "http://" + addr, DataPlaneService: "eio.system.svc", DataPlaneServicePort: 8080,
		SSORecheckInterval: time.Hour, SSOTimeout: 5 * time.Second,
		// The tests are the authenticating proxy, on 127.0.0.1 (other loopback addresses are not).
		TrustProxyHeaders: true, TrustedProxyCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		// As with --local: the test identity providers (test/localidp) and the data plane listen on loopback.
		OutboundAllow: outbound.Loopback(),
	}
	for _, c := range configure {
		c(&opts)
	}
	g.Expect(operator.Add(ctx, mgr, st, opts)).To(Succeed())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = mgr.Start(ctx) }()
	// Cleanups run last-registered first: stop the manager (the data plane records its queued
	// audit events as it stops), then close the store, then stop the API server.
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Error("the manager did not stop within 30 s")
		}
		closeStore()
	})

	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(os.WriteFile(kubeconfig, env.KubeConfig, 0o600)).To(Succeed())
	return &system{ctx: ctx, env: env, k8s: k8s, st: st, baseURL: "http://" + addr, kubeconfig: kubeconfig,
		probeURL: "http://" + probe, closeStore: closeStore}
}

// kubectl runs the kubectl built with the control plane against the test API server.
func (s *system) kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(s.ctx, filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"),
		append([]string{"--kubeconfig", s.kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestSampleOrganizationProvisionedOverHTTP(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	sys := start(t)
	ctx, k8s, st, baseURL := sys.ctx, sys.k8s, sys.st, sys.baseURL

	By := func(s string) { t.Log(s) }

	By("a platform team applies the samples with kubectl")
	sys.kubectl(t, "apply", "-k", filepath.Join("..", "..", "config", "samples"))

	scim := &v1alpha1.ScimIntegration{}
	key := types.NamespacedName{Namespace: "acme", Name: "acme"}
	condition := func(typ string) func() string {
		return func() string {
			if err := k8s.Get(ctx, key, scim); err != nil {
				return err.Error()
			}
			c := meta.FindStatusCondition(scim.Status.Conditions, typ)
			if c == nil {
				return "absent"
			}
			return string(c.Status) + "/" + c.Reason
		}
	}

	By("the operator issues a token and the data plane serves the organization")
	// The first reconciles wait for the control plane's caches and SSO validation: under make
	// test's parallel packages that once took longer than the default 30 s.
	g.Eventually(condition(v1alpha1.ConditionEndpointReady), 90*time.Second).Should(Equal("True/Serving"))
	g.Eventually(condition(v1alpha1.ConditionReady)).Should(Equal("True/Ready"))
	g.Expect(scim.Status.BaseURL).To(Equal(baseURL + "/scim/v2/acme"))
	g.Expect(scim.Status.Token.Retrievable).To(BeTrue())

	By("the admin reads the token once from the Secret")
	secret := &corev1.Secret{}
	secretKey := types.NamespacedName{Namespace: "acme", Name: scim.Status.Token.SecretName}
	g.Expect(k8s.Get(ctx, secretKey, secret)).To(Succeed())
	tok := string(secret.Data["token"])
	g.Expect(tok).To(HavePrefix("eio_scim_"))

	By("the identity provider tests the connection and provisions a user over HTTP")
	status, body := call(t, "GET", scim.Status.BaseURL+"/Users?filter=userName+eq+%22nobody%22", tok, "")
	g.Expect(status).To(Equal(http.StatusOK), body)
	g.Expect(body).To(ContainSubstring(`"totalResults":0`))
	status, body = call(t, "POST", scim.Status.BaseURL+"/Users", tok,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.example","active":true}`)
	g.Expect(status).To(Equal(http.StatusCreated), body)

	By("the first authenticated request acknowledged the token: the plaintext is gone, the hash stays")
	g.Eventually(func() bool {
		_ = k8s.Get(ctx, secretKey, secret)
		_, has := secret.Data["token"]
		return has
	}).Should(BeFalse())
	g.Expect(secret.Data["sha256"]).NotTo(BeEmpty())
	g.Eventually(func() *metav1.Time {
		_ = k8s.Get(ctx, key, scim)
		return scim.Status.Token.LastUsedAt
	}).ShouldNot(BeNil())
	g.Expect(scim.Status.Token.Retrievable).To(BeFalse())

	By("another organization's token, or none, gets 401")
	status, _ = call(t, "GET", scim.Status.BaseURL+"/Users", "eio_scim_not-the-token", "")
	g.Expect(status).To(Equal(http.StatusUnauthorized))

	By("a rotation issues a new token while the old one keeps working during the overlap")
	g.Expect(patchSpec(ctx, k8s, key, `{"spec":{"token":{"rotation":1}}}`)).To(Succeed())
	var newToken string
	g.Eventually(func() string {
		_ = k8s.Get(ctx, secretKey, secret)
		newToken = string(secret.Data["token"])
		return newToken
	}).ShouldNot(BeEmpty())
	g.Eventually(func() int { s, _ := call(t, "GET", scim.Status.BaseURL+"/Users", newToken, ""); return s }).Should(Equal(http.StatusOK))
	status, _ = call(t, "GET", scim.Status.BaseURL+"/Users", tok, "")
	g.Expect(status).To(Equal(http.StatusOK))

	By("status summarises provisioning: one active member, the last request")
	g.Eventually(func() int64 {
		_ = k8s.Get(ctx, key, scim)
		if scim.Status.Provisioning == nil {
			return 0
		}
		return scim.Status.Provisioning.Members["Active"]
	}).Should(Equal(int64(1)))
	g.Expect(scim.Status.Provisioning.LastRequestAt).NotTo(BeNil())
	g.Expect(scim.Status.Provisioning.ConnectionVerifiedAt).NotTo(BeNil())
	g.Expect(scim.Status.Provisioning.LastClient).To(Equal("Go-http-client/1.1"))
	g.Expect(scim.Status.Provisioning.LastSuccessAt).NotTo(BeNil())
	// Refusals reach the audit log in batches; nudge reconciles until the summary shows it.
	g.Eventually(func() int32 {
		_ = k8s.Patch(ctx, scim, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"e2e/nudge":"`+time.Now().String()+`"}}}`)))
		_ = k8s.Get(ctx, key, scim)
		if scim.Status.Provisioning.LastError == nil {
			return 0
		}
		return scim.Status.Provisioning.LastError.Status
	}).Should(Equal(int32(http.StatusUnauthorized)), "the wrong token above")
	g.Eventually(func() []string {
		list := &eventsv1.EventList{}
		_ = k8s.List(ctx, list, client.InNamespace("acme"))
		var reasons []string
		for _, e := range list.Items {
			reasons = append(reasons, e.Reason)
		}
		return reasons
	}).Should(ContainElement("IdentityProviderConnected"))

	By("disabling the integration answers 403 within seconds")
	g.Expect(patchSpec(ctx, k8s, key, `{"spec":{"enabled":false}}`)).To(Succeed())
	g.Eventually(func() int { s, _ := call(t, "GET", scim.Status.BaseURL+"/Users", newToken, ""); return s }).Should(Equal(http.StatusForbidden))
	g.Eventually(condition(v1alpha1.ConditionReady)).Should(Equal("False/Disabled"))

	By("deleting the integration with deletionPolicy Delete removes the organization's SCIM data")
	g.Expect(patchSpec(ctx, k8s, key, `{"spec":{"deletionPolicy":"Delete"}}`)).To(Succeed())
	g.Eventually(func() v1alpha1.DeletionPolicy { _ = k8s.Get(ctx, key, scim); return scim.Spec.DeletionPolicy }).Should(Equal(v1alpha1.DeletionPolicyDelete))
	g.Expect(k8s.Delete(ctx, scim)).To(Succeed())
	g.Eventually(func() int {
		page, err := st.List(ctx, "acme", store.KindUser, store.Query{Count: 0})
		if err != nil {
			return -1
		}
		return page.Total
	}).Should(Equal(0))
	g.Eventually(func() int { s, _ := call(t, "GET", baseURL+"/scim/v2/acme/Users", newToken, ""); return s }).Should(Equal(http.StatusUnauthorized))
}

func patchSpec(ctx context.Context, c client.Client, key types.NamespacedName, patch string) error {
	obj := &v1alpha1.ScimIntegration{}
	obj.Namespace, obj.Name = key.Namespace, key.Name
	return c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch)))
}

func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func freeAddress(t *testing.T) string {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func base64Decode(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}
