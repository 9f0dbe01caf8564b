package events

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Delivery results, the values of the result label.
const (
	resultDelivered    = "delivered"
	resultFailed       = "failed"
	resultDeadLettered = "dead_lettered"
	resultSkipped      = "skipped"
)

// Metrics are the delivery series: outcomes and the lag from event to acknowledgement. Labels are
// bounded (the result only): per-subscription health is in each EventSubscription's status.
type Metrics struct {
	deliveries *prometheus.CounterVec
	lag        prometheus.Histogram
}

// NewMetrics registers the delivery series.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "eio_event_deliveries_total",
			Help: "Webhook delivery attempts by result: delivered, failed, dead_lettered, skipped (not a type the subscription wants)."},
			[]string{"result"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "eio_event_delivery_lag_seconds",
			Help:    "Time from an event's write to its receiver's acknowledgement.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600}}),
	}
	// Every result is exported from the start, at 0, so alerts see the series before a delivery.
	for _, r := range []string{resultDelivered, resultFailed, resultDeadLettered, resultSkipped} {
		m.deliveries.WithLabelValues(r)
	}
	// A process that starts several managers (the tests) shares the series: counters add up.
	if err := reg.Register(m.deliveries); err != nil {
		are := prometheus.AlreadyRegisteredError{}
		if !errors.As(err, &are) {
			return nil, err
		}
		m.deliveries = are.ExistingCollector.(*prometheus.CounterVec) //nolint:errcheck // registered by NewMetrics, always this type
	}
	if err := reg.Register(m.lag); err != nil {
		are := prometheus.AlreadyRegisteredError{}
		if !errors.As(err, &are) {
			return nil, err
		}
		m.lag = are.ExistingCollector.(prometheus.Histogram) //nolint:errcheck // as above
	}
	return m, nil
}

// observe counts a result; a delivery also observes its lag from the event's time.
func (m *Metrics) observe(result string, eventTime time.Time) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(result).Inc()
	if result == resultDelivered && !eventTime.IsZero() {
		m.lag.Observe(time.Since(eventTime).Seconds())
	}
}
