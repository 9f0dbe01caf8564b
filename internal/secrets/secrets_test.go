package secrets_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
)

// A tenant's Secret (here one applied with kubectl, whose last-applied annotation repeats its
// data) never reaches the operator's memory: the Secret cache holds only managed Secrets, and the
// names cache only names.
func TestOnlyManagedSecretsAreCached(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run through make test, which builds the control plane")
	}
	// A bound on the whole test, not a timed assertion: starting a control plane and caching a
	// 1 MiB Secret took most of a minute under make test's load (CI failed once at 61 s).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	env := &envtest.Environment{}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	tenant := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "tenant-oidc",
		Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"client-secret":"c2VjcmV0"}}`}},
		Data: map[string][]byte{"client-secret": []byte("secret")}}
	managed := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "acme-scim-token",
		Labels: map[string]string{secrets.ManagedByLabel: secrets.ManagedByValue}}, Data: map[string][]byte{"sha256": []byte("x")}}
	// A tenant's Secret with the managed label, forged: the cache keeps no more of it than of a
	// token Secret.
	labelsOf := map[string]string{secrets.ManagedByLabel: secrets.ManagedByValue}
	for i := range 200 {
		labelsOf[fmt.Sprintf("padding-%d", i)] = strings.Repeat("x", 63)
	}
	forged := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "forged", Labels: labelsOf,
		Annotations: map[string]string{"padding": strings.Repeat("a", 200<<10), "enterprise.z8z8.io/issued-at": strings.Repeat("b", 8<<10)}},
		Data: map[string][]byte{"payload": make([]byte, 900<<10), "token": make([]byte, 64<<10), "sha256": []byte("kept")}}
	for _, s := range []*corev1.Secret{tenant, managed, forged} {
		if err := k8s.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	opts := secrets.CacheOptions()
	opts.Scheme = scheme
	c, err := cache.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	names, err := secrets.NewNames(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A controller referencing the tenant's Secret by name, as the EnterpriseIdentity controller does.
	src := names.Source(func(_ context.Context, namespace, name string) []reconcile.Request {
		if name != tenant.Name {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: namespace, Name: "uses-" + name}}}
	})
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer queue.ShutDown()
	if err := src.Start(ctx, queue); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	go func() { _ = names.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the cache did not start")
	}

	list := &corev1.SecretList{}
	if err := c.List(ctx, list); err != nil {
		t.Fatal(err)
	}
	byName := map[string]corev1.Secret{}
	for _, s := range list.Items {
		byName[s.Name] = s
	}
	if _, ok := byName[managed.Name]; len(list.Items) != 2 || !ok {
		t.Fatalf("the Secret cache holds %d Secrets; want only %s and %s", len(list.Items), managed.Name, forged.Name)
	}
	if string(byName[managed.Name].Data["sha256"]) != "x" {
		t.Fatalf("the cache lost a token Secret's hash: %v", byName[managed.Name].Data)
	}
	cached := byName[forged.Name]
	size := 0
	for k, v := range cached.Data {
		size += len(k) + len(v)
	}
	for k, v := range cached.Annotations {
		size += len(k) + len(v)
	}
	for k, v := range cached.Labels {
		size += len(k) + len(v)
	}
	if size > 1<<10 || string(cached.Data["sha256"]) != "kept" {
		t.Fatalf("the cache holds %d bytes of a forged Secret's data, labels and annotations (%v)", size, cached.Data)
	}
	next := func() reconcile.Request {
		t.Helper()
		got := make(chan reconcile.Request, 1)
		go func() {
			r, _ := queue.Get()
			queue.Done(r)
			queue.Forget(r)
			got <- r
		}()
		select {
		case r := <-got:
			return r
		case <-ctx.Done():
			t.Fatal("no request for the tenant's Secret")
			return reconcile.Request{}
		}
	}
	if r := next(); r.Name != "uses-"+tenant.Name {
		t.Fatalf("the initial list wakes %v", r)
	}
	tenant.Data["client-secret"] = []byte("rotated")
	if err := k8s.Update(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	if r := next(); r.Name != "uses-"+tenant.Name {
		t.Fatalf("a change of the tenant's Secret wakes %v", r)
	}
}
