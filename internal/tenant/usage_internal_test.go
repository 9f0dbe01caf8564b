package tenant

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// Every rotation brings a new token fingerprint: the recorder forgets those it last wrote more
// than an interval ago once it holds many, so rotating tokens does not grow it for good.
func TestTheUsageRecorderForgetsOldTokens(t *testing.T) {
	u := &UsageRecorder{written: map[string]time.Time{}}
	start := time.Now()
	for i := range 10 * maxRememberedTokens {
		now := start.Add(time.Duration(i) * time.Second) // a rotated token used once a second
		u.forgetOlderThan(now.Add(-lastUsedInterval))
		u.written[fmt.Sprint("token-", i)] = now
	}
	if n := len(u.written); n > maxRememberedTokens+2*int(lastUsedInterval/time.Second) {
		t.Fatalf("%d tokens remembered after %d were used once each", n, 10*maxRememberedTokens)
	}
}

// Until the controller removes a token's plaintext, every request of it asks for an
// acknowledgement: the Secret is patched once, not once per request.
func TestAnAcknowledgementIsWrittenOncePerToken(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var patches atomic.Int64
	k8s := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "acme-scim-token"},
		Data:       map[string][]byte{v1alpha1.SecretKeySHA256: []byte("fp")}}).WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			patches.Add(1)
			return c.Patch(ctx, obj, patch, opts...)
		}}).Build()
	u := &UsageRecorder{Client: k8s, written: map[string]time.Time{}}
	org := &Organization{Name: "acme", Generated: true, Retrievable: true,
		TokenSecret: types.NamespacedName{Namespace: "acme", Name: "acme-scim-token"}}
	for range 1000 { // an identity provider at its rate limit
		u.record(context.Background(), Caller{Organization: org, Fingerprint: "fp", Current: true})
	}
	if n := patches.Load(); n != 1 {
		t.Fatalf("%d patches of the token Secret for 1,000 requests, want 1", n)
	}
	secret := &corev1.Secret{}
	if err := k8s.Get(context.Background(), org.TokenSecret, secret); err != nil || secret.Annotations[v1alpha1.AnnotationTokenAcknowledged] == "" {
		t.Fatalf("the token was not acknowledged (%v): %v", err, secret.Annotations)
	}
}

// With several replicas behind one ingress, a token's last use is written once a minute, not
// once a minute by each replica; and a replica that has not seen a rotation yet, still accepting
// the old token as current, never acknowledges the new token's plaintext with the old token's
// use (the controller would remove it before anyone copied it).
func TestReplicasRecordATokensUseOnceAndOnlyForTheCurrentToken(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var patches atomic.Int64
	key := types.NamespacedName{Namespace: "acme", Name: "acme-scim-token"}
	k8s := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
		Data:       map[string][]byte{v1alpha1.SecretKeySHA256: []byte("old-token-hash"), v1alpha1.SecretKeyToken: []byte("old")}}).
		WithInterceptorFuncs(interceptor.Funcs{
			Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
				patches.Add(1)
				return c.Patch(ctx, obj, patch, opts...)
			}}).Build()
	org := &Organization{Name: "acme", Generated: true, TokenSecret: key}
	old := Caller{Organization: org, Fingerprint: token.Fingerprint("old-token-hash"), Current: true}
	for range 3 { // three replicas, one use each
		u := &UsageRecorder{Client: k8s, written: map[string]time.Time{}}
		u.record(context.Background(), old)
	}
	if n := patches.Load(); n != 1 {
		t.Fatalf("3 replicas patched the token Secret %d times in a minute, want 1", n)
	}

	// The controller rotates: a new plaintext, waiting to be copied.
	secret := &corev1.Secret{}
	if err := k8s.Get(context.Background(), key, secret); err != nil {
		t.Fatal(err)
	}
	secret.Data = map[string][]byte{v1alpha1.SecretKeySHA256: []byte("new-token-hash"), v1alpha1.SecretKeyToken: []byte("new")}
	if err := k8s.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	// A replica still serving the organization as before the rotation: the old token is its
	// current one, its plaintext retrievable.
	stale := &Organization{Name: "acme", Generated: true, Retrievable: true, TokenSecret: key}
	u := &UsageRecorder{Client: k8s, written: map[string]time.Time{}}
	u.record(context.Background(), Caller{Organization: stale, Fingerprint: old.Fingerprint, Current: true})
	if err := k8s.Get(context.Background(), key, secret); err != nil {
		t.Fatal(err)
	}
	if ack := secret.Annotations[v1alpha1.AnnotationTokenAcknowledged]; ack != "" {
		t.Fatalf("the old token's use acknowledged the new token: %q", ack)
	}
}
