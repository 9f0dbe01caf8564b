package ui

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// apiServer is one real API server (envtest, with the operator's CRDs) for the tests that need
// Kubernetes' own answers to TokenReviews and access reviews; the first such test starts it,
// TestMain stops it. Each test works in namespaces of its own.
var apiServer struct {
	once sync.Once
	env  *envtest.Environment
	cfg  *rest.Config
	err  error
}

var testScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return s
}()

func TestMain(m *testing.M) {
	code := m.Run()
	if apiServer.env != nil {
		_ = apiServer.env.Stop()
	}
	os.Exit(code)
}

func realAPIServer(t *testing.T) *rest.Config {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run through make test, which builds the control plane")
	}
	apiServer.once.Do(func() {
		apiServer.env = &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
			ErrorIfCRDPathMissing: true}
		apiServer.cfg, apiServer.err = apiServer.env.Start()
	})
	if apiServer.err != nil {
		t.Fatal(apiServer.err)
	}
	return rest.CopyConfig(apiServer.cfg)
}

// cachedClient reads the operator's objects from a cache, with the index the wizard uses, as
// the manager's client does.
func cachedClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	c, err := cache.New(cfg, cache.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := c.IndexField(ctx, &v1alpha1.ScimIntegration{}, index.IdentityRef, func(o client.Object) []string {
		return []string{o.(*v1alpha1.ScimIntegration).Spec.IdentityRef.Name}
	}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	k8s, err := client.New(cfg, client.Options{Scheme: testScheme, Cache: &client.CacheOptions{Reader: c}})
	if err != nil {
		t.Fatal(err)
	}
	return k8s
}

// reviewCounts counts the reviews clients send the API server.
type reviewCounts struct{ tokens, access atomic.Int64 }

// countingClient is a client of the real API server counting its reviews; before, when set,
// runs ahead of each access review (a test holds them there).
func countingClient(t *testing.T, cfg *rest.Config, counts *reviewCounts, before func(ctx context.Context, review client.Object)) client.Client {
	t.Helper()
	k8s, err := newCountingClient(cfg, counts, before)
	if err != nil {
		t.Fatal(err)
	}
	return k8s
}

func newCountingClient(cfg *rest.Config, counts *reviewCounts, before func(ctx context.Context, review client.Object)) (client.Client, error) {
	k8s, err := client.NewWithWatch(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		return nil, err
	}
	return interceptor.NewClient(k8s, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			switch obj.(type) {
			case *authenticationv1.TokenReview:
				counts.tokens.Add(1)
			case *authorizationv1.SubjectAccessReview, *authorizationv1.SelfSubjectRulesReview:
				counts.access.Add(1)
				if before != nil {
					before(ctx, obj)
				}
			}
			return c.Create(ctx, obj, opts...)
		}}), nil
}

// impersonating acts as the admin on the real API server, as the operator does, its reviews
// counted too.
func impersonating(cfg *rest.Config, counts *reviewCounts) func(service.Identity) (client.Client, error) {
	return func(who service.Identity) (client.Client, error) {
		imp, err := who.ImpersonationConfig(false)
		if err != nil {
			return nil, err
		}
		as := rest.CopyConfig(cfg)
		as.Impersonate = imp
		return newCountingClient(as, counts, nil)
	}
}
