// Package operator assembles the manager: field indexes, the controllers (leader only), and the
// data plane every replica runs (tenant registry, token-use recorder, HTTP server). cmd/main.go
// and the end-to-end tests both build the system through Add, so the tests run what ships.
package operator

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/z8z8/enterprise-identity-operator/controllers"
	"github.com/z8z8/enterprise-identity-operator/internal/adminapi"
	"github.com/z8z8/enterprise-identity-operator/internal/audit"
	"github.com/z8z8/enterprise-identity-operator/internal/dataplane"
	"github.com/z8z8/enterprise-identity-operator/internal/groupwork"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
	"github.com/z8z8/enterprise-identity-operator/internal/scim"
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
	"github.com/z8z8/enterprise-identity-operator/internal/ui"
)

// Options configure the operator's parts.
type Options struct {
	// BindAddress is where the data plane listens.
	BindAddress string
	// ExternalURL is the base of status.baseURL when a ScimIntegration asks for no Ingress.
	ExternalURL          string
	DataPlaneService     string
	DataPlaneServicePort int32
	SSORecheckInterval   time.Duration
	SSOTimeout           time.Duration
	// OutboundAllow lists ranges that tenant-chosen URLs (identity provider documents, the
	// self-test's base URL) may reach although internal addresses are refused by default.
	OutboundAllow []netip.Prefix
	// TrustProxyHeaders makes the admin API accept X-Remote-User/X-Remote-Group, from TCP peers
	// inside TrustedProxyCIDRs only (required with it).
	TrustProxyHeaders bool
	TrustedProxyCIDRs []netip.Prefix
	// ForwardedForCIDRs are the reverse proxies whose X-Forwarded-For names a SCIM client's
	// address (per-source rate limits, refused-request records).
	ForwardedForCIDRs []netip.Prefix
	// LocalUser is the admin API identity of requests without one (--local only).
	LocalUser *service.Identity
	// SessionKey signs the wizard's sessions; nil means a random key per process.
	SessionKey []byte
	// NoMetricsOrganizationLabel leaves the SCIM metrics' organization label empty (very many
	// organizations).
	NoMetricsOrganizationLabel bool
	// MaxRateLimit is the most one organization is served at, whatever its ScimIntegration's
	// spec.rateLimit asks (a tenant writes its own); zero fields cap nothing.
	MaxRateLimit tenant.RateLimit
	// MaxOrganizationsPerNamespace bounds the organizations one namespace's EnterpriseIdentities
	// hold; zero bounds nothing.
	MaxOrganizationsPerNamespace int
	// ReleasedOrganizationGrace is how long a released organization without data stays with its
	// namespace before any namespace may claim its slug (0: freed at once).
	ReleasedOrganizationGrace time.Duration
}

// Add registers everything on mgr, serving SCIM from st.
func Add(ctx context.Context, mgr ctrl.Manager, st store.Store, o Options) error {
	if err := CheckProxyTrust(o.TrustProxyHeaders, o.TrustedProxyCIDRs); err != nil {
		return err
	}
	if err := index.Setup(ctx, mgr); err != nil {
		return fmt.Errorf("registering field indexes: %w", err)
	}
	names, err := secrets.Setup(mgr)
	if err != nil {
		return err
	}
	registry := tenant.NewRegistry()
	registry.SetOnForget(scim.ForgetOrganization)
	if err := (&tenant.Source{Client: mgr.GetClient(), Registry: registry, APIReader: mgr.GetAPIReader(), SecretNames: names,
		MaxRateLimit: o.MaxRateLimit}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the tenant registry: %w", err)
	}
	if err := mgr.Add(&tenant.UsageRecorder{Client: mgr.GetClient(), Registry: registry}); err != nil {
		return err
	}
	if err := mgr.Add(&tenant.BindingCheck{Store: st, Registry: registry, Log: ctrl.Log.WithName("tenant")}); err != nil {
		return err
	}
	if err := mgr.Add(&audit.Pruner{Store: st, Registry: registry, Interval: time.Hour}); err != nil {
		return err
	}
	if err := mgr.Add(&tenant.DeletionResumer{Store: st, Log: ctrl.Log.WithName("tenant")}); err != nil {
		return err
	}
	groupWork := &groupwork.Worker{Store: st, Registry: registry, Log: ctrl.Log.WithName("groupwork")}
	if err := mgr.Add(groupWork); err != nil {
		return err
	}
	scimServer := &scim.Server{Store: st, Tenants: registry, TrustedProxies: o.ForwardedForCIDRs, RefusalDelay: scim.DefaultRefusalDelay,
		Log: slog.New(logr.ToSlogHandler(ctrl.Log.WithName("scim")))}
	scimServer.NoOrganizationLabel = o.NoMetricsOrganizationLabel
	provisioningMetrics, err := registerMetrics(metrics.Registry, scimServer, registry, groupWork, o.NoMetricsOrganizationLabel)
	if err != nil {
		return err
	}
	impersonate := impersonator(mgr, o.LocalUser != nil)
	svc := &service.Service{Store: st, Tenants: registry, Client: mgr.GetClient(), Impersonate: impersonate,
		Log: slog.New(logr.ToSlogHandler(ctrl.Log.WithName("service")))}
	admin := &adminapi.Server{Service: svc, TrustProxyHeaders: o.TrustProxyHeaders, TrustedProxies: o.TrustedProxyCIDRs,
		ForwardedFor: o.ForwardedForCIDRs, TrustedOrigins: trustedOrigins(o.ExternalURL), LocalUser: o.LocalUser,
		Log: slog.New(logr.ToSlogHandler(ctrl.Log.WithName("adminapi")))}
	mux := http.NewServeMux()
	mux.Handle("/scim/", scimServer.Handler())
	admin.Routes(mux)
	(&ui.Server{Service: svc, Auth: admin, Client: mgr.GetClient(), Impersonate: impersonate, LocalSCIMURL: localSCIMURL(o.BindAddress), SessionKey: o.SessionKey,
		SelfTestClient: outbound.NewClient(outbound.Options{Allow: o.OutboundAllow, Timeout: 10 * time.Second}),
		Log:            slog.New(logr.ToSlogHandler(ctrl.Log.WithName("ui")))}).Routes(mux)
	if err := addReadinessChecks(mgr, st, registry); err != nil {
		return err
	}
	if err := mgr.Add(&dataplane.Server{Address: o.BindAddress, Handler: mux, Registry: registry, Drained: scimServer.Close,
		Prime: primeRegistry(mgr.GetClient(), registry)}); err != nil {
		return err
	}
	if err := (&controllers.EnterpriseIdentityReconciler{
		Client:                       mgr.GetClient(),
		Recorder:                     mgr.GetEventRecorder("enterpriseidentity-controller"),
		Clock:                        clock.RealClock{},
		HTTPClient:                   outbound.NewClient(outbound.Options{Allow: o.OutboundAllow, Timeout: o.SSOTimeout}),
		RecheckInterval:              o.SSORecheckInterval,
		APIReader:                    mgr.GetAPIReader(),
		SecretNames:                  names,
		MaxOrganizationsPerNamespace: o.MaxOrganizationsPerNamespace,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the EnterpriseIdentity controller: %w", err)
	}
	if err := (&controllers.OrganizationClaimReconciler{
		Client:       mgr.GetClient(),
		Recorder:     mgr.GetEventRecorder("organizationclaim-controller"),
		Data:         st,
		Clock:        clock.RealClock{},
		ReleaseGrace: o.ReleasedOrganizationGrace,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the OrganizationClaim controller: %w", err)
	}
	if err := (&controllers.ScimIntegrationReconciler{
		Client:               mgr.GetClient(),
		Recorder:             mgr.GetEventRecorder("scimintegration-controller"),
		Clock:                clock.RealClock{},
		ExternalURL:          o.ExternalURL,
		DataPlaneService:     o.DataPlaneService,
		DataPlaneServicePort: o.DataPlaneServicePort,
		DataPlane:            registry,
		Data:                 st,
		APIReader:            mgr.GetAPIReader(),
		SecretNames:          names,
		Metrics:              provisioningMetrics,
		MaxRateLimit:         o.MaxRateLimit,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ScimIntegration controller: %w", err)
	}
	if err := addEventDelivery(mgr, st, registry, o); err != nil {
		return fmt.Errorf("setting up event delivery: %w", err)
	}
	return nil
}

// localSCIMURL is the data plane's own SCIM address, for the self-test when the public base URL
// is not reachable from inside the cluster.
func localSCIMURL(bind string) string {
	host, port, err := net.SplitHostPort(bind)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/scim/v2"
}
