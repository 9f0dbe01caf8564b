package secrets_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
)

// A tenant's Secret (here one applied with kubectl, whose last-applied annotation repeats its
// data) never reaches the operator's memory: the Secret cache holds only managed Secrets, and the
// names cache only names.
func TestOnlyManagedSecretsAreCached(t *testing.T) {
	cfg, k8s := controlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	tenant := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "tenant-oidc",
		Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"client-secret":"c2VjcmV0"}}`}},
		Data: map[string][]byte{"client-secret": []byte("secret")}}
	managed := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "acme-scim-token",
		Labels: map[string]string{secrets.ManagedByLabel: secrets.ManagedByValue}}, Data: map[string][]byte{"sha256": []byte("x")}}
	for _, s := range []*corev1.Secret{tenant, managed} {
		if err := k8s.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	c := startCache(ctx, t, cfg)
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
	go func() { _ = names.Start(ctx) }()

	list := &corev1.SecretList{}
	if err := c.List(ctx, list, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	byName := map[string]corev1.Secret{}
	for _, s := range list.Items {
		byName[s.Name] = s
	}
	if _, ok := byName[managed.Name]; len(list.Items) != 1 || !ok {
		t.Fatalf("the Secret cache holds %d Secrets; want only %s", len(list.Items), managed.Name)
	}
	if string(byName[managed.Name].Data["sha256"]) != "x" {
		t.Fatalf("the cache lost a token Secret's hash: %v", byName[managed.Name].Data)
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
