package secrets_test

import (
	"context"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
)

// A tenant's Secret (here one applied with kubectl, whose last-applied annotation repeats its
// data) never reaches the operator's memory: the Secret cache holds only managed Secrets, and the
// names cache only names.
func TestOnlyManagedSecretsAreCached(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run through make test, which builds the control plane")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
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
	for _, s := range []*corev1.Secret{tenant, managed} {
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
	names, err := secrets.NewNames(cfg, scheme)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	go func() { _ = names.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) || !names.WaitForCacheSync(ctx) {
		t.Fatal("the caches did not start")
	}

	list := &corev1.SecretList{}
	if err := c.List(ctx, list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != managed.Name {
		t.Fatalf("the Secret cache holds %d Secrets; want only %s", len(list.Items), managed.Name)
	}
	meta := &metav1.PartialObjectMetadataList{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := names.List(ctx, meta, client.InNamespace("default")); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range meta.Items {
		if len(m.Annotations) > 0 || len(m.Labels) > 0 || len(m.ManagedFields) > 0 {
			t.Fatalf("the names cache holds more than names for %s: %v %v", m.Name, m.Annotations, m.Labels)
		}
		found = found || m.Name == tenant.Name
	}
	if !found {
		t.Fatal("the names cache does not know the tenant's Secret, so its changes would go unnoticed")
	}
}
