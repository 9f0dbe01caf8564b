package operator

import (
	"context"
	"errors"
	"net/http"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// storePingTimeout bounds the readiness check's query, so a hung database fails it rather than
// the kubelet's probe timing out.
const storePingTimeout = 2 * time.Second

// addReadinessChecks makes /readyz mean "this replica can serve SCIM": the store answers and the
// data plane accepts connections (it stops doing so first when the replica shuts down). /healthz
// stays about the process.
func addReadinessChecks(mgr ctrl.Manager, st store.Store, registry *tenant.Registry) error {
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("store", func(r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), storePingTimeout)
		defer cancel()
		return st.Ping(ctx)
	}); err != nil {
		return err
	}
	return mgr.AddReadyzCheck("data-plane", func(*http.Request) error {
		if !registry.Listening() {
			return errors.New("the data plane does not accept connections")
		}
		return nil
	})
}
