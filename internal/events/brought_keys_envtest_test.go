package events

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// slowReader is the API server answering each read in about 50 ms, as a loaded one reading a
// large Secret does.
type slowReader struct {
	client.Reader
	reads atomic.Int64
}

func (s *slowReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	s.reads.Add(1)
	select {
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Reader.Get(ctx, key, obj, opts...)
}

// counting is a receiver on loopback that acknowledges every request and counts them.
type counting struct{ got atomic.Int64 }

func (c *counting) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	c.got.Add(1)
	w.WriteHeader(http.StatusNoContent)
}

// One namespace's 200 subscriptions bringing one large signing key do not hold up another
// namespace's deliveries when their keys' minute is up together. The keys were kept per
// subscription and read again on the scheduling loop, which starts every namespace's pairs: 200
// reads one after another (10 s here) during which no pair of any namespace started. Against a
// real API server, behind a reader that takes 50 ms per read.
func TestManyBroughtKeysExpiringTogetherDoNotHoldOtherNamespaces(t *testing.T) {
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
	st := openStore(t)
	registry := tenant.NewRegistry()
	receivers := map[string]*counting{}
	create := func(obj client.Object) {
		t.Helper()
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	subscribe := func(namespace string, n int, padding int) {
		t.Helper()
		create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})
		key, _ := NewSigningKey()
		create(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "key"},
			Data: map[string][]byte{v1alpha1.SecretKeySigningKey: []byte(key), "padding": make([]byte, padding)}})
		rc := &counting{}
		srv := httptest.NewServer(rc)
		t.Cleanup(srv.Close)
		receivers[namespace] = rc
		for i := range n {
			create(&v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprint("app-", i)},
				Spec: v1alpha1.EventSubscriptionSpec{URL: srv.URL, SigningKey: &v1alpha1.SigningKeySpec{
					SecretRef: v1alpha1.SigningKeySecretRef{Name: "key"}}}})
		}
		registry.Set(&tenant.Organization{Name: namespace, Integration: types.NamespacedName{Namespace: namespace, Name: namespace}})
	}
	subscribe("evil", 200, 900<<10)
	subscribe("good", 1, 0)

	// The deliverer's clock, which the test moves past the keys' minute.
	var ahead atomic.Int64
	reader := &slowReader{Reader: k8s}
	d := &Deliverer{Store: st, Client: k8s, APIReader: reader, Registry: registry, HTTP: &http.Client{}, Interval: 200 * time.Millisecond,
		Log: logr.Discard(), Now: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }}
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = d.Start(ctx) }()
	defer func() { cancel(); <-stopped }() // before the store closes

	waitFor := func(what string, within time.Duration, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > within {
				t.Fatalf("waited %s for %s", within, what)
			}
			time.Sleep(10 * time.Millisecond)
		}
		return time.Since(start)
	}
	// Every pair started and delivered once: every key was read.
	createUser(t, st, "evil", "e0", []byte(`{}`))
	createUser(t, st, "good", "g0", []byte(`{}`))
	waitFor("the first deliveries", 2*time.Minute, func() bool { return receivers["evil"].got.Load() == 200 && receivers["good"].got.Load() == 1 })

	ahead.Store(int64(broughtKeyTTL + time.Second)) // every key's minute is up at once
	createUser(t, st, "evil", "e1", []byte(`{}`))
	createUser(t, st, "good", "g1", []byte(`{}`))
	took := waitFor("the other namespace's event", 30*time.Second, func() bool { return receivers["good"].got.Load() == 2 })
	if took > 2*time.Second {
		t.Fatalf("the other namespace's event took %s, want within 2 s", took.Round(time.Millisecond))
	}
	waitFor("the crowded namespace's events", time.Minute, func() bool { return receivers["evil"].got.Load() == 400 })
	t.Logf("the other namespace's event took %s; %d reads of the API server in all", took.Round(time.Millisecond), reader.reads.Load())
}
