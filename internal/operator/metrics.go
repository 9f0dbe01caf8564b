package operator

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// registerAuditDrops exposes the audit events the SCIM server could not record (queue full,
// failed batch) as eio_audit_events_dropped_total, so a lost event is visible and alertable,
// never silent. Several managers in one process (the tests) share the first registration.
func registerAuditDrops(reg prometheus.Registerer, dropped func() uint64) error {
	err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "eio_audit_events_dropped_total",
		Help: "SCIM audit events that could not be recorded (the queue was full or a batch failed).",
	}, func() float64 { return float64(dropped()) }))
	if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
		return nil
	}
	return err
}
