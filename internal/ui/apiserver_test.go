package ui

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// apiServer is one real API server (envtest) for the tests that need Kubernetes' own answers to
// TokenReviews and access reviews; the first such test starts it, TestMain stops it.
var apiServer struct {
	once sync.Once
	env  *envtest.Environment
	cfg  *rest.Config
	err  error
}

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
		apiServer.env = &envtest.Environment{}
		apiServer.cfg, apiServer.err = apiServer.env.Start()
	})
	if apiServer.err != nil {
		t.Fatal(apiServer.err)
	}
	return rest.CopyConfig(apiServer.cfg)
}

// reviewCounts counts the reviews a client sends the API server.
type reviewCounts struct{ tokens, access atomic.Int64 }

// countingClient is a client of the real API server counting its reviews; before, when set,
// runs ahead of each access review (a test holds them there).
func countingClient(t *testing.T, cfg *rest.Config, counts *reviewCounts, before func(ctx context.Context)) client.Client {
	t.Helper()
	k8s, err := client.NewWithWatch(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return interceptor.NewClient(k8s, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			switch obj.(type) {
			case *authenticationv1.TokenReview:
				counts.tokens.Add(1)
			case *authorizationv1.SubjectAccessReview, *authorizationv1.SelfSubjectRulesReview:
				counts.access.Add(1)
				if before != nil {
					before(ctx)
				}
			}
			return c.Create(ctx, obj, opts...)
		}})
}
