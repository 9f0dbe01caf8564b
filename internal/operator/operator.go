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
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/controllers"
	"github.com/z8z8/enterprise-identity-operator/internal/adminapi"
	"github.com/z8z8/enterprise-identity-operator/internal/audit"
	"github.com/z8z8/enterprise-identity-operator/internal/dataplane"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
	"github.com/z8z8/enterprise-identity-operator/internal/scim"
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
	// TrustProxyHeaders makes the admin API accept X-Remote-User/X-Remote-Group.
	TrustProxyHeaders bool
	// LocalUser is the admin API identity of requests without one (--local only).
	LocalUser *adminapi.Identity
	// SessionKey signs the wizard's sessions; nil means a random key per process.
	SessionKey []byte
}

// Add registers everything on mgr, serving SCIM from st.
func Add(ctx context.Context, mgr ctrl.Manager, st store.Store, o Options) error {
	if err := index.Setup(ctx, mgr); err != nil {
		return fmt.Errorf("registering field indexes: %w", err)
	}
	registry := tenant.NewRegistry()
	if err := (&tenant.Source{Client: mgr.GetClient(), Registry: registry}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the tenant registry: %w", err)
	}
	if err := mgr.Add(&tenant.UsageRecorder{Client: mgr.GetClient(), Registry: registry}); err != nil {
		return err
	}
	if err := mgr.Add(&audit.Pruner{Store: st, Registry: registry, Interval: time.Hour}); err != nil {
		return err
	}
	scimServer := &scim.Server{Store: st, Tenants: registry, Log: slog.New(logr.ToSlogHandler(ctrl.Log.WithName("scim")))}
	impersonate := impersonator(mgr)
	admin := &adminapi.Server{Store: st, Tenants: registry, Client: mgr.GetClient(), TrustProxyHeaders: o.TrustProxyHeaders,
		LocalUser: o.LocalUser, Impersonate: impersonate, Log: slog.New(logr.ToSlogHandler(ctrl.Log.WithName("adminapi")))}
	mux := http.NewServeMux()
	mux.Handle("/scim/", scimServer.Handler())
	admin.Routes(mux)
	(&ui.Server{Admin: admin, Client: mgr.GetClient(), Impersonate: impersonate, LocalSCIMURL: localSCIMURL(o.BindAddress), SessionKey: o.SessionKey,
		Log: slog.New(logr.ToSlogHandler(ctrl.Log.WithName("ui")))}).Routes(mux)
	if err := mgr.Add(&dataplane.Server{Address: o.BindAddress, Handler: mux, Registry: registry, Drained: scimServer.Close}); err != nil {
		return err
	}
	if err := (&controllers.EnterpriseIdentityReconciler{
		Client:          mgr.GetClient(),
		Recorder:        mgr.GetEventRecorder("enterpriseidentity-controller"),
		Clock:           clock.RealClock{},
		HTTPClient:      &http.Client{Timeout: o.SSOTimeout},
		RecheckInterval: o.SSORecheckInterval,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the EnterpriseIdentity controller: %w", err)
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
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the ScimIntegration controller: %w", err)
	}
	return nil
}

// +kubebuilder:rbac:groups="",resources=users;groups;serviceaccounts,verbs=impersonate

// impersonator returns clients acting as an admin: the wizard and the admin API write CRs as the
// person, so Kubernetes RBAC decides and the API server's audit log names them.
func impersonator(mgr ctrl.Manager) func(adminapi.Identity) (client.Client, error) {
	return func(who adminapi.Identity) (client.Client, error) {
		cfg := rest.CopyConfig(mgr.GetConfig())
		cfg.Impersonate = rest.ImpersonationConfig{UserName: who.User, Groups: who.Groups}
		return client.New(cfg, client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	}
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
