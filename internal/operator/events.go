package operator

import (
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/z8z8/enterprise-identity-operator/controllers"
	"github.com/z8z8/enterprise-identity-operator/internal/events"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// addEventDelivery registers the EventSubscription controller and the webhook deliverer.
func addEventDelivery(mgr ctrl.Manager, st store.Store, registry *tenant.Registry, o Options) error {
	// Brought signing keys are read once per Secret for the controller and the deliverer.
	keys := &events.BroughtKeys{Reader: mgr.GetAPIReader()}
	if err := (&controllers.EventSubscriptionReconciler{
		Client:      mgr.GetClient(),
		Recorder:    mgr.GetEventRecorder("eventsubscription-controller"),
		Clock:       clock.RealClock{},
		APIReader:   mgr.GetAPIReader(),
		BroughtKeys: keys,
		Data:        st,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	m, err := events.NewMetrics(metrics.Registry)
	if err != nil {
		return err
	}
	webhooks := events.NewWebhookClient(o.OutboundAllow)
	return mgr.Add(&events.Deliverer{Store: st, Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), BroughtKeys: keys, Registry: registry,
		HTTP: webhooks, Metrics: m, Log: ctrl.Log.WithName("events")})
}
