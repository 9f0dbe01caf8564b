// Command manager is the Enterprise Identity Operator: the controllers (leader only) and, as it
// grows, the SCIM data plane, admin API and wizard (every replica), in one binary.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/adminapi"
	"github.com/z8z8/enterprise-identity-operator/internal/gctune"
	"github.com/z8z8/enterprise-identity-operator/internal/localenv"
	"github.com/z8z8/enterprise-identity-operator/internal/operator"
	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(v1alpha1.AddToScheme(scheme))
}

// options are the manager's flags.
type options struct {
	metricsAddr          string
	metrics              metricsServing
	probeAddr            string
	pprofAddr            string
	election             leaderElection
	externalURL          string
	dataPlaneService     string
	dataPlaneServicePort int
	ssoRecheck           time.Duration
	ssoTimeout           time.Duration
	outboundAllow        []netip.Prefix
	bindAddress          string
	sqlitePath           string
	postgresURL          string
	trustProxyHeaders    bool
	trustedProxyCIDRs    string
	forwardedForCIDRs    string
	sessionKeyFile       string
	metricsOrgLabel      bool
	local                bool
	localDir             string
	crdDir               string
	samplesDir           string
	maxOrganizationRate  float64
	maxOrganizationBurst int
	// maxOrganizationsPerNamespace bounds the organizations one namespace holds.
	maxOrganizationsPerNamespace int
	releasedOrganizationGrace    time.Duration
}

func main() {
	gctune.Apply()
	var o options
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":8082", "Address of the Prometheus metrics endpoint (/metrics); 0 disables it.")
	o.metrics.bindFlags(flag.CommandLine)
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	flag.StringVar(&o.pprofAddr, "pprof-bind-address", "0",
		"Address of Go's profiling endpoints (/debug/pprof/), for finding where time goes; 0 (the default) disables them. Never expose it.")
	o.election.bindFlags(flag.CommandLine)
	flag.StringVar(&o.bindAddress, "bind-address", "127.0.0.1:8080", "Address of the data plane: SCIM, admin API and wizard. Use :8080 in a cluster.")
	flag.StringVar(&o.sqlitePath, "sqlite-path", "identity.db", "SQLite database file of the embedded store (with --local: <local-dir>/identity.db).")
	// No default from the environment here: flag prints defaults in its usage text (on -h and on
	// any flag error), and the URL carries the database password. $EIO_POSTGRES_URL is read after.
	flag.StringVar(&o.postgresURL, "postgres-url", "",
		"PostgreSQL connection URL; when set, the store is PostgreSQL instead of SQLite (default from $EIO_POSTGRES_URL).")
	flag.StringVar(&o.externalURL, "external-url", "http://127.0.0.1:8080",
		"URL the identity providers reach the data plane at when a ScimIntegration asks for no Ingress.")
	flag.StringVar(&o.dataPlaneService, "data-plane-service", "enterprise-identity-operator.enterprise-identity-system.svc.cluster.local",
		"DNS name of the data plane Service that per-organization Ingresses route to.")
	flag.IntVar(&o.dataPlaneServicePort, "data-plane-service-port", 8080, "Port of the data plane Service.")
	flag.DurationVar(&o.ssoRecheck, "sso-recheck-interval", time.Hour, "How often a valid SSO configuration is validated again.")
	flag.DurationVar(&o.ssoTimeout, "sso-timeout", 10*time.Second, "Timeout of each request to an identity provider during SSO validation.")
	flag.Func("allow-outbound-cidrs", "Comma-separated networks that identity provider URLs and the self-test may reach although they are "+
		"internal (loopback, link-local, private); all other internal addresses are refused. --local adds loopback.", func(v string) error {
		p, err := outbound.ParsePrefixes(v)
		o.outboundAllow = append(o.outboundAllow, p...)
		return err
	})
	flag.BoolVar(&o.trustProxyHeaders, "trust-proxy-headers", false,
		"Admin API and wizard: accept X-Remote-User and X-Remote-Group from an authenticating proxy in front of the data plane; needs --trusted-proxy-cidrs.")
	flag.StringVar(&o.trustedProxyCIDRs, "trusted-proxy-cidrs", "",
		"Comma-separated networks (such as 127.0.0.1/32 for a proxy in the same pod) whose TCP peers may send the proxy headers; all others' headers are ignored.")
	flag.StringVar(&o.forwardedForCIDRs, "forwarded-for-cidrs", "",
		"SCIM and admin sign-ins: comma-separated networks of reverse proxies in front of the data plane (such as the ingress controller's pods) whose "+
			"X-Forwarded-For names the client address, for per-source rate limits and refused-request records. Empty: the TCP peer is the client.")
	flag.BoolVar(&o.metricsOrgLabel, "metrics-organization-label", true,
		"Label SCIM metrics with the organization; turn off with very many organizations to bound the series.")
	flag.StringVar(&o.sessionKeyFile, "session-key-file", "",
		"File holding the key (at least 32 bytes) that signs the wizard's sessions; share it between replicas. Empty: a random key per process.")
	flag.Float64Var(&o.maxOrganizationRate, "max-organization-rate-limit", 1000,
		"SCIM: the most requests per second (per replica) one organization is served at, whatever its ScimIntegration's spec.rateLimit asks: "+
			"tenants write their own. 0: no maximum (the default with --local).")
	flag.IntVar(&o.maxOrganizationBurst, "max-organization-burst", 2000,
		"SCIM: the largest burst one organization is allowed, whatever its spec.rateLimit asks. 0: no maximum (the default with --local).")
	flag.IntVar(&o.maxOrganizationsPerNamespace, "max-organizations-per-namespace", 20,
		"The most organizations one namespace's EnterpriseIdentities may hold; one more is refused with a condition saying why. "+
			"0: no maximum (the default with --local).")
	flag.DurationVar(&o.releasedOrganizationGrace, "released-organization-grace", 2*time.Minute,
		"How long an organization released without data (its EnterpriseIdentity deleted) stays with its namespace, for the "+
			"namespace's next EnterpriseIdentity (a rename, a GitOps replace, the namespace created again), before any namespace may claim its slug. 0: freed at once.")
	flag.BoolVar(&o.local, "local", false, "Run everything locally: start kube-apiserver and etcd, install the CRDs, apply the samples.")
	flag.StringVar(&o.localDir, "local-dir", ".local", "With --local: folder for the kubeconfig, etcd data and the SQLite database.")
	flag.StringVar(&o.crdDir, "crd-dir", "config/crd/bases", "With --local: CRD manifests to install.")
	flag.StringVar(&o.samplesDir, "samples-dir", "config/samples", "With --local: objects to apply once the operator runs.")
	// Development output reads well at a terminal; stack traces only for real panics.
	zapOpts := zap.Options{Development: true, StacktraceLevel: zapcore.DPanicLevel}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	if o.postgresURL == "" {
		o.postgresURL = os.Getenv("EIO_POSTGRES_URL")
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	o.liftLocalRateMaximum()

	ctx := ctrl.SetupSignalHandler()
	if o.local {
		stopWithParent()
	}
	if err := run(ctx, o); err != nil {
		setupLog.Error(err, "Manager stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	// Checked before anything starts: a mistake here is a flag to fix, not a running control plane.
	if !(o.maxOrganizationRate >= 0) || math.IsInf(o.maxOrganizationRate, 0) || o.maxOrganizationBurst < 0 {
		return fmt.Errorf("--max-organization-rate-limit %g and --max-organization-burst %d: want numbers of at least 0 (0: no maximum)",
			o.maxOrganizationRate, o.maxOrganizationBurst)
	}
	if o.maxOrganizationsPerNamespace < 0 {
		return fmt.Errorf("--max-organizations-per-namespace %d: want a number of at least 0 (0: no maximum)", o.maxOrganizationsPerNamespace)
	}
	trustedProxies, err := adminapi.ParseCIDRs(o.trustedProxyCIDRs)
	if err != nil {
		return fmt.Errorf("--trusted-proxy-cidrs: %w", err)
	}
	if err := operator.CheckProxyTrust(o.trustProxyHeaders, trustedProxies); err != nil {
		return err
	}
	forwardedFor, err := adminapi.ParseCIDRs(o.forwardedForCIDRs)
	if err != nil {
		return fmt.Errorf("--forwarded-for-cidrs: %w", err)
	}
	cfg, stop, err := restConfig(o)
	if err != nil {
		return err
	}
	defer stop()

	mgrOptions := ctrl.Options{
		Scheme: scheme,
		// Only the Secrets the operator manages are cached (internal/secrets).
		Cache:                  secrets.CacheOptions(),
		Metrics:                o.metrics.options(o.metricsAddr),
		HealthProbeBindAddress: o.probeAddr,
		PprofBindAddress:       o.pprofAddr,
		LeaderElectionID:       "enterprise-identity-operator.enterprise.z8z8.io",
	}
	o.election.apply(&mgrOptions)
	mgr, err := ctrl.NewManager(cfg, mgrOptions)
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	st, err := openStore(ctx, o)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	sessionKey, err := readSessionKey(o.sessionKeyFile)
	if err != nil {
		return err
	}
	if err := operator.Add(ctx, mgr, st, operator.Options{
		BindAddress:                  o.bindAddress,
		ExternalURL:                  o.externalURL,
		DataPlaneService:             o.dataPlaneService,
		DataPlaneServicePort:         int32(o.dataPlaneServicePort), //nolint:gosec // a port number
		SSORecheckInterval:           o.ssoRecheck,
		SSOTimeout:                   o.ssoTimeout,
		OutboundAllow:                outboundAllow(o),
		TrustProxyHeaders:            o.trustProxyHeaders,
		TrustedProxyCIDRs:            trustedProxies,
		ForwardedForCIDRs:            forwardedFor,
		LocalUser:                    localUser(o),
		SessionKey:                   sessionKey,
		NoMetricsOrganizationLabel:   !o.metricsOrgLabel,
		MaxRateLimit:                 tenant.RateLimit{RequestsPerSecond: o.maxOrganizationRate, Burst: o.maxOrganizationBurst},
		MaxOrganizationsPerNamespace: o.maxOrganizationsPerNamespace,
		ReleasedOrganizationGrace:    o.releasedOrganizationGrace,
	}); err != nil {
		return err
	}
	if o.local {
		if err := mgr.Add(&localSetup{client: mgr.GetClient(), options: o}); err != nil {
			return err
		}
	}
	setupLog.Info("Starting manager")
	return mgr.Start(ctx)
}

// liftLocalRateMaximum leaves organizations uncapped with --local unless a maximum was given: a
// developer's machine has one tenant, whose samples `make run` gives a limit that load tests do
// not meet (localenv.LocalRateLimit), and which may set up as many organizations as it likes.
func (o *options) liftLocalRateMaximum() {
	if !o.local {
		return
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["max-organization-rate-limit"] {
		o.maxOrganizationRate = 0
	}
	if !set["max-organization-burst"] {
		o.maxOrganizationBurst = 0
	}
	if !set["max-organizations-per-namespace"] {
		o.maxOrganizationsPerNamespace = 0
	}
}

// localUser is who the admin API trusts with --local: the local kubeconfig's cluster admin.
func localUser(o options) *service.Identity {
	if !o.local {
		return nil
	}
	return &service.Identity{User: "local-admin", Groups: []string{"system:masters"}, Source: service.Local}
}

// outboundAllow is what tenant-chosen URLs may reach besides public addresses: the flag's
// networks and, with --local, loopback, where the local identity providers and the operator listen.
func outboundAllow(o options) []netip.Prefix {
	if !o.local {
		return o.outboundAllow
	}
	return append(outbound.Loopback(), o.outboundAllow...)
}

// openStore opens PostgreSQL when a URL is given, else the embedded SQLite database.
func openStore(ctx context.Context, o options) (store.Store, error) {
	if o.postgresURL != "" {
		setupLog.Info("Opening the PostgreSQL store")
		return sqlstore.OpenPostgres(ctx, o.postgresURL)
	}
	path := o.sqlitePath
	if o.local {
		path = filepath.Join(o.localDir, "identity.db")
	}
	setupLog.Info("Opening the SQLite store", "path", path)
	return sqlstore.OpenSQLite(ctx, path)
}

// restConfig is the in-cluster or kubeconfig configuration, or with --local a control plane of
// our own, stopped by the returned function.
func restConfig(o options) (*rest.Config, func(), error) {
	if !o.local {
		cfg, err := ctrl.GetConfig()
		return cfg, func() {}, err
	}
	setupLog.Info("Starting a local kube-apiserver and etcd", "dir", o.localDir)
	cp, err := localenv.Start(localenv.Options{Dir: o.localDir, CRDDir: o.crdDir, AssetsDir: os.Getenv("KUBEBUILDER_ASSETS")})
	if err != nil {
		return nil, nil, err
	}
	return cp.Config, func() {
		if err := cp.Stop(); err != nil {
			setupLog.Error(err, "Stopping the local control plane")
		}
	}, nil
}

// readSessionKey reads the wizard's session signing key, shared by every replica (a mounted
// Secret), or returns nil for a random key per process.
func readSessionKey(file string) ([]byte, error) {
	if file == "" {
		return nil, nil
	}
	key, err := os.ReadFile(file) //nolint:gosec // the operator's own flag
	if err != nil {
		return nil, fmt.Errorf("reading --session-key-file: %w", err)
	}
	key = bytes.TrimSpace(key)
	if len(key) < 32 {
		return nil, fmt.Errorf("--session-key-file %s holds %d bytes; it needs at least 32", file, len(key))
	}
	return key, nil
}
