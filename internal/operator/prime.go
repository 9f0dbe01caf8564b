package operator

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// primeTimeout bounds the wait for the registry: an integration whose reconcile keeps failing
// must not keep the replica from serving every other organization.
const primeTimeout = 30 * time.Second

// primeRegistry is the data plane's Prime: it waits until the tenant registry has decided on
// every ScimIntegration in the (synced) cache, so a starting replica listens, and turns ready,
// only once it knows the organizations it serves.
func primeRegistry(c client.Reader, registry *tenant.Registry) func(context.Context) error {
	return func(ctx context.Context) error {
		list := &v1alpha1.ScimIntegrationList{}
		if err := c.List(ctx, list); err != nil {
			return fmt.Errorf("listing ScimIntegrations to load the organizations: %w", err)
		}
		keys := make([]types.NamespacedName, 0, len(list.Items))
		for i := range list.Items {
			keys = append(keys, client.ObjectKeyFromObject(&list.Items[i]))
		}
		if pending := registry.WaitSettled(ctx, keys, primeTimeout); pending > 0 {
			ctrl.Log.WithName("dataplane").Info("Serving before every organization is loaded", "pending", pending, "waited", primeTimeout)
		}
		return nil
	}
}
