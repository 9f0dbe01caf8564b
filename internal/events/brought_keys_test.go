package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
)

// A brought key is read once for all the subscriptions naming its Secret, and once its time is up
// only the Secret's metadata is read again while the Secret is unchanged: 200 subscriptions naming
// one Secret of almost 1 MiB cost a small read a minute, not 200 reads of the Secret. A changed
// key is read within that minute.
func TestABroughtKeyIsReadOncePerSecret(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	key, _ := NewSigningKey()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "evil", Name: "shared-key"},
		Data: map[string][]byte{v1alpha1.SecretKeySigningKey: []byte(key), "padding": make([]byte, 900<<10)}}
	var secrets, metadata atomic.Int64
	k8s := fake.NewClientBuilder().WithScheme(scheme).WithObjects(secret).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			switch obj.(type) {
			case *corev1.Secret:
				secrets.Add(1)
			case *metav1.PartialObjectMetadata:
				metadata.Add(1)
			}
			return c.Get(ctx, key, obj, opts...)
		}}).Build()
	now := time.Now()
	d := &Deliverer{Client: k8s, APIReader: k8s, Now: func() time.Time { return now }}
	var subs []*v1alpha1.EventSubscription
	for i := range 200 {
		subs = append(subs, &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: "evil", Name: fmt.Sprint("app-", i),
			UID: types.UID(fmt.Sprint("evil-app-", i)), Generation: 1}, Spec: v1alpha1.EventSubscriptionSpec{
			SigningKey: &v1alpha1.SigningKeySpec{SecretRef: v1alpha1.SigningKeySecretRef{Name: "shared-key"}}}})
	}
	check := func(when string, want string, wantSecrets, wantMetadata int64) {
		t.Helper()
		for _, sub := range subs {
			if keys, err := d.signingKeys(context.Background(), sub); err != nil || keys[0] != want {
				t.Fatalf("%s: %d keys (%v)", when, len(keys), err)
			}
		}
		if secrets.Load() != wantSecrets || metadata.Load() != wantMetadata {
			t.Fatalf("%s: the Secret was read %d times and its metadata %d, want %d and %d", when, secrets.Load(), metadata.Load(),
				wantSecrets, wantMetadata)
		}
	}
	check("first", key, 1, 0)
	check("within the minute", key, 1, 0)
	now = now.Add(broughtKeyTTL + time.Second)
	check("a minute later, unchanged", key, 1, 1)
	rotated, _ := NewSigningKey()
	secret.Data[v1alpha1.SecretKeySigningKey] = []byte(rotated)
	if err := k8s.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	check("changed, within the minute", key, 1, 1)
	now = now.Add(broughtKeyTTL + time.Second)
	check("changed, a minute later", rotated, 2, 2)
}

// blockingReader answers a read after delay (never, when zero, until the read's context ends),
// and counts the reads in flight at once.
type blockingReader struct {
	client.Reader
	delay     time.Duration
	mu        sync.Mutex
	now, most int
}

func (b *blockingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	b.mu.Lock()
	b.now++
	b.most = max(b.most, b.now)
	b.mu.Unlock()
	defer func() { b.mu.Lock(); b.now--; b.mu.Unlock() }()
	wait := make(<-chan time.Time)
	if b.delay > 0 {
		wait = time.After(b.delay)
	}
	select {
	case <-wait:
		return b.Reader.Get(ctx, key, obj, opts...)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// One namespace's brought keys are read at most two at a time, whatever the subscriptions asking
// at once, and a read the API server never answers ends after keyReadTimeout: it is tried again
// soon, not held forever.
func TestBroughtKeyReadsAreBoundedPerNamespace(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	builder := fake.NewClientBuilder().WithScheme(scheme)
	var subs []*v1alpha1.EventSubscription
	for i := range 8 {
		key, _ := NewSigningKey()
		name := fmt.Sprint("key-", i)
		builder = builder.WithObjects(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "evil", Name: name},
			Data: map[string][]byte{v1alpha1.SecretKeySigningKey: []byte(key)}})
		subs = append(subs, &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: "evil", Name: name},
			Spec: v1alpha1.EventSubscriptionSpec{SigningKey: &v1alpha1.SigningKeySpec{SecretRef: v1alpha1.SigningKeySecretRef{Name: name}}}})
	}
	k8s := builder.Build()
	reader := &blockingReader{Reader: k8s, delay: 50 * time.Millisecond}
	keys := &BroughtKeys{Reader: reader}
	var wg sync.WaitGroup
	for _, sub := range subs {
		wg.Go(func() {
			if _, err := keys.Keys(context.Background(), sub); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if reader.most > keyReadsPerNamespace || reader.most < 2 {
		t.Fatalf("%d reads of one namespace at once, want at most %d (and some at once)", reader.most, keyReadsPerNamespace)
	}

	hung := &BroughtKeys{Reader: &blockingReader{Reader: k8s}}
	start := time.Now()
	if _, err := hung.Keys(context.Background(), subs[0]); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a read the API server never answers: %v", err)
	}
	if took := time.Since(start); took > keyReadTimeout+2*time.Second {
		t.Fatalf("a read the API server never answers took %s", took)
	}
}
