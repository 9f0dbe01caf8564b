// Package ha runs three manager processes, built from cmd/ as shipped, against one kube-apiserver
// (envtest) and one PostgreSQL database, all on loopback, and proves the high-availability
// promises: controllers only on the elected leader, failover after kill -9, no lost or duplicated
// SCIM write when a replica dies under load, and a rolling restart that fails no request.
package ha

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/test/pgtest"
)

// Lease timings of the test's managers: shorter than the defaults (15 s, 10 s, 2 s) so failover is
// quick, yet with room for a renewal on two shared, loaded cores.
const (
	leaseDuration = 10 * time.Second
	renewDeadline = 7 * time.Second
	retryPeriod   = time.Second
	// leaseNamespace holds the leader election Lease.
	leaseNamespace = "eio-system"
	// leaseName is the manager's LeaderElectionID.
	leaseName = "enterprise-identity-operator.enterprise.z8z8.io"
)

// cluster is the API server, the database and the replicas of one test.
type cluster struct {
	k8s      client.Client
	dsn      string
	replicas []*replica
}

// newCluster starts envtest, creates a fresh PostgreSQL database, builds the manager and starts
// n replicas with the extra flags args, waiting until each is ready. Everything stops when the
// test ends.
func newCluster(t *testing.T, n int, args ...string) *cluster {
	t.Helper()
	dsn := os.Getenv("EIO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("EIO_TEST_POSTGRES_DSN is not set; make test starts a throwaway PostgreSQL server and sets it")
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run through make test, which builds the control plane")
	}
	dir := t.TempDir()
	binary := buildManager(t, dir)
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{leaseNamespace, orgNamespace} {
		if err := k8s.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	c := &cluster{k8s: k8s, dsn: freshDatabase(t, dsn)}
	for i := range n {
		r := newReplica(t, "r"+strconv.Itoa(i), binary, dir, kubeconfig, c.dsn)
		r.extra = args
		r.args = append(r.args, args...)
		c.replicas = append(c.replicas, r)
	}
	// Cleanups run last-registered first: the replicas stop before the API server.
	t.Cleanup(func() {
		for _, r := range c.replicas {
			r.kill(t)
		}
		if t.Failed() {
			for _, r := range c.replicas {
				r.dumpLog(t)
			}
		}
	})
	for _, r := range c.replicas {
		r.start(t)
	}
	for _, r := range c.replicas {
		r.waitReady(t)
	}
	return c
}

// buildManager builds cmd/ into dir, as make build does.
func buildManager(t *testing.T, dir string) string {
	t.Helper()
	binary := filepath.Join(dir, "manager")
	out, err := exec.CommandContext(t.Context(), "go", "build", "-o", binary, "../../cmd").CombinedOutput() //nolint:gosec // fixed arguments
	if err != nil {
		t.Fatalf("building the manager: %v\n%s", err, out)
	}
	return binary
}

// freshDatabase creates an empty database on the test server and returns its URL.
func freshDatabase(t *testing.T, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	u, err := pgtest.CreateDatabase(ctx, dsn, "ha")
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// freeAddress is a loopback address nothing listens on now.
func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String()
}
