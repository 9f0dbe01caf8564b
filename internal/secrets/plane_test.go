package secrets_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
)

// testTimeout bounds each test, not a timed assertion: starting a control plane and caching a
// 1 MiB Secret took most of a minute under make test's load (CI failed once at 61 s).
const testTimeout = 5 * time.Minute

// plane is one API server for the package's tests, with the operator's CRDs, started by the
// first that needs it.
var plane struct {
	once sync.Once
	env  *envtest.Environment
	cfg  *rest.Config
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if plane.env != nil {
		_ = plane.env.Stop()
	}
	os.Exit(code)
}

var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha1.AddToScheme(s)
	return s
}()

// controlPlane returns the package's API server and a client of it.
func controlPlane(t *testing.T) (*rest.Config, client.Client) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run through make test, which builds the control plane")
	}
	plane.once.Do(func() {
		plane.env = &envtest.Environment{
			CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
		}
		plane.cfg, plane.err = plane.env.Start()
	})
	if plane.err != nil {
		t.Fatal(plane.err)
	}
	k8s, err := client.New(plane.cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return plane.cfg, k8s
}

// startCache starts a cache configured as the manager's, until ctx ends, and waits for it.
func startCache(ctx context.Context, t *testing.T, cfg *rest.Config) cache.Cache {
	t.Helper()
	opts := secrets.CacheOptions()
	opts.Scheme = scheme
	c, err := cache.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("the cache did not start")
	}
	return c
}
