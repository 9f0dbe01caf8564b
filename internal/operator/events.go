package operator

import (
	"net/http"
	"slices"
	"time"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/z8z8/enterprise-identity-operator/controllers"
	"github.com/z8z8/enterprise-identity-operator/internal/events"
	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// addEventDelivery registers the EventSubscription controller and the webhook deliverer.
func addEventDelivery(mgr ctrl.Manager, st store.Store, registry *tenant.Registry, o Options) error {
	if err := (&controllers.EventSubscriptionReconciler{
		Client:    mgr.GetClient(),
		Recorder:  mgr.GetEventRecorder("eventsubscription-controller"),
		Clock:     clock.RealClock{},
		APIReader: mgr.GetAPIReader(),
		Data:      st,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	m, err := events.NewMetrics(metrics.Registry)
	if err != nil {
		return err
	}
	// Receivers are applications, often inside the cluster: private ranges are allowed, loopback
	// and link-local (the metadata service) only when the operator allows them. A redirect is
	// not followed: the receiver is the URL the subscription names.
	webhooks := outbound.NewClient(outbound.Options{Allow: append(slices.Clone(o.OutboundAllow), outbound.Private()...), Timeout: 10 * time.Second})
	webhooks.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return mgr.Add(&events.Deliverer{Store: st, Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Registry: registry, HTTP: webhooks,
		Metrics: m, Log: ctrl.Log.WithName("events")})
}
