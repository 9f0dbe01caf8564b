// Command scale measures the operator with many organizations on the local control plane
// (kube-apiserver and etcd from hack/control-plane.sh) and prints the figures docs/performance.md
// records: time until every organization is Ready, writes and CPU at rest, the manager's memory,
// SCIM latency with every organization served, and the manager's memory before and after many
// Secrets it has no business with. The manager runs as its own process (the binary ./cmd builds),
// so its CPU and memory are read from /proc without this program's.
//
//	KUBEBUILDER_ASSETS="$(./hack/control-plane.sh)" go run ./test/scale     # make bench
//	KUBEBUILDER_ASSETS=… go run ./test/scale -namespaces 2 -per-namespace 50 -rest 20s -secrets 1000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/localenv"
)

var (
	namespaces   = flag.Int("namespaces", 10, "namespaces holding organizations")
	perNamespace = flag.Int("per-namespace", 100, "organizations (EnterpriseIdentity + ScimIntegration) per namespace")
	readyTimeout = flag.Duration("ready-timeout", 10*time.Minute, "how long every organization may take to become Ready")
	settle       = flag.Duration("settle", 30*time.Second, "wait after all are Ready (and after the Secrets) before measuring")
	restWindow   = flag.Duration("rest", 60*time.Second, "how long writes and CPU are measured at rest")
	latencyFor   = flag.Duration("latency", 10*time.Second, "how long SCIM requests are sent")
	concurrency  = flag.Int("concurrency", 8, "concurrent SCIM clients")
	unrelated    = flag.Int("secrets", 10000, "unrelated Secrets created to show they do not grow the manager's memory")
)

func main() {
	flag.Parse()
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "eio-scale-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	cp, err := localenv.Start(localenv.Options{Dir: dir, CRDDir: filepath.Join("config", "crd", "bases"), AssetsDir: os.Getenv("KUBEBUILDER_ASSETS")})
	if err != nil {
		return err
	}
	defer func() { _ = cp.Stop() }()
	apiserver, etcd := childPID("kube-apiserver"), childPID("etcd")
	c, cs, err := clients(cp.Config)
	if err != nil {
		return err
	}
	mgr, err := startManager(ctx, dir, cp.KubeconfigPath)
	if err != nil {
		return err
	}
	defer mgr.stop()

	total := *namespaces * *perNamespace
	fmt.Printf("# organizations at scale on the local control plane: %d namespaces x %d organizations, %d CPUs, %s\n",
		*namespaces, *perNamespace, runtime.NumCPU(), time.Now().UTC().Format(time.DateOnly))
	rssIdle, heapIdle := rssMiB(mgr.pid()), mgr.heapMiB(ctx)

	start := time.Now()
	orgs, err := applyOrganizations(ctx, c, *namespaces, *perNamespace)
	if err != nil {
		return err
	}
	applied := time.Since(start)
	if err := waitReady(ctx, c, total, *readyTimeout); err != nil {
		return fmt.Errorf("%w (manager log: %s)", err, mgr.log)
	}
	row("time to all Ready (from the first create)", fmt.Sprintf("%.1f s (creates took %.1f s)", time.Since(start).Seconds(), applied.Seconds()))

	time.Sleep(*settle)
	if err := measureRest(ctx, c, cs, mgr, apiserver, etcd); err != nil {
		return err
	}
	rssOrgs, heapOrgs := rssMiB(mgr.pid()), mgr.heapMiB(ctx)
	row("manager memory, no organizations", fmt.Sprintf("RSS %.0f MiB, Go heap in use %.0f MiB", rssIdle, heapIdle))
	row(fmt.Sprintf("manager memory, %d organizations", total), fmt.Sprintf("RSS %.0f MiB, Go heap in use %.0f MiB", rssOrgs, heapOrgs))

	lat, err := scimLatency(ctx, c, mgr.dataPlane, orgs, *concurrency, *latencyFor)
	if err != nil {
		return err
	}
	row(fmt.Sprintf("SCIM userName lookup, random org of %d", total),
		fmt.Sprintf("p50 %s, p99 %s, %.0f req/s, %d failed", lat.p50.Round(10*time.Microsecond), lat.p99.Round(10*time.Microsecond), lat.perSecond, lat.failed))

	time.Sleep(*settle) // the token acknowledgements the first requests caused
	rssBefore, heapBefore := rssMiB(mgr.pid()), mgr.heapMiB(ctx)
	if err := createUnrelatedSecrets(ctx, c, *unrelated); err != nil {
		return err
	}
	time.Sleep(*settle)
	rssAfter, heapAfter := rssMiB(mgr.pid()), mgr.heapMiB(ctx)
	row(fmt.Sprintf("manager memory, +%d unrelated Secrets", *unrelated),
		fmt.Sprintf("RSS %.0f -> %.0f MiB (%+.0f), Go heap in use %.0f -> %.0f MiB (%+.0f)",
			rssBefore, rssAfter, rssAfter-rssBefore, heapBefore, heapAfter, heapAfter-heapBefore))
	return nil
}

// measureRest counts writes and CPU over the rest window, with no traffic.
func measureRest(ctx context.Context, c client.WithWatch, cs kubernetes.Interface, mgr *manager, apiserver, etcd int) error {
	watch, err := watchWrites(ctx, c)
	if err != nil {
		return err
	}
	requests0, err := mutatingRequests(ctx, cs)
	if err != nil {
		return err
	}
	reconciles0 := mgr.reconciles(ctx)
	cpu := startCPU(mgr.pid(), apiserver, etcd)
	time.Sleep(*restWindow)
	used := cpu.percent()
	changes := watch.stop()
	reconciles1 := mgr.reconciles(ctx)
	requests1, err := mutatingRequests(ctx, cs)
	if err != nil {
		return err
	}
	var n int64
	var kinds []string
	for kind, k := range changes {
		n += k
		kinds = append(kinds, fmt.Sprintf("%s %d", kind, k))
	}
	slices.Sort(kinds)
	secs := restWindow.Seconds()
	row(fmt.Sprintf("at rest, %s: objects changed (watch events)", restWindow), fmt.Sprintf("%.2f/s (%s)", float64(n)/secs, strings.Join(kinds, ", ")))
	row(fmt.Sprintf("at rest, %s: mutating API requests", restWindow), "all clients: "+orDash(strings.Join(delta(requests0, requests1), ", ")))
	row(fmt.Sprintf("at rest, %s: reconciles", restWindow), orDash(strings.Join(delta(reconciles0, reconciles1), ", ")))
	row("at rest: CPU, % of one core", fmt.Sprintf("manager %.1f %%, kube-apiserver %.1f %%, etcd %.1f %%", used[0], used[1], used[2]))
	return nil
}

func clients(cfg *rest.Config) (client.WithWatch, kubernetes.Interface, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 500, 1000 // creating thousands of objects is this program's job
	scheme := clientgoscheme.Scheme
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, nil, err
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	return c, cs, err
}

func row(name, value string) { fmt.Printf("%-52s %s\n", name, value) }

func orDash(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
