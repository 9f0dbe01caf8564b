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
		ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "acme-scim-token"}}).WithInterceptorFuncs(interceptor.Funcs{
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
}
