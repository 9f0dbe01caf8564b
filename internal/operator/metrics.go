package operator

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/z8z8/enterprise-identity-operator/controllers"
	"github.com/z8z8/enterprise-identity-operator/internal/groupwork"
	"github.com/z8z8/enterprise-identity-operator/internal/scim"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// registerMetrics adds the operator's metrics (docs/observability.md) to reg and returns the
// collector the ScimIntegration controller's summary fills.
func registerMetrics(reg prometheus.Registerer, scimServer *scim.Server, registry *tenant.Registry, groupWork *groupwork.Worker,
	noOrgLabel bool) (*controllers.ProvisioningMetrics, error) {
	if err := scim.RegisterMetrics(reg); err != nil {
		return nil, fmt.Errorf("registering the SCIM metrics: %w", err)
	}
	if err := registerAuditDrops(reg, scimServer.DroppedAuditEvents); err != nil {
		return nil, fmt.Errorf("registering the audit drop metric: %w", err)
	}
	if err := sqlstore.RegisterMetrics(reg); err != nil {
		return nil, fmt.Errorf("registering the store metrics: %w", err)
	}
	if err := registerReplacing(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eio_group_work_pending",
		Help: "Pieces of work deletions and renames of large groups of served organizations left for the group worker (the leader's; at most 1000).",
	}, func() float64 { return float64(groupWork.Pending()) })); err != nil {
		return nil, fmt.Errorf("registering the group work metric: %w", err)
	}
	if err := registerReplacing(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "eio_group_work_oldest_age_seconds",
		Help: "How long the oldest piece of work left for the group worker has waited (the leader's; 0 when none).",
	}, func() float64 { return groupWork.OldestAge().Seconds() })); err != nil {
		return nil, fmt.Errorf("registering the group work age metric: %w", err)
	}
	if err := registerReplacing(reg, &tenant.TokenMetrics{Registry: registry, NoOrganizationLabel: noOrgLabel}); err != nil {
		return nil, fmt.Errorf("registering the token metrics: %w", err)
	}
	provisioning := &controllers.ProvisioningMetrics{Serving: registry.ServingFor, NoOrganizationLabel: noOrgLabel}
	if err := registerReplacing(reg, provisioning); err != nil {
		return nil, fmt.Errorf("registering the member metrics: %w", err)
	}
	return provisioning, nil
}

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

// registerReplacing registers a collector that reads this manager's state (its tenant registry,
// its controllers' counts), replacing one a previous manager in the process registered: the
// latest manager is the one running (tests start one per test; a binary has one).
func registerReplacing(reg prometheus.Registerer, c prometheus.Collector) error {
	err := reg.Register(c)
	if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
		reg.Unregister(are.ExistingCollector)
		return reg.Register(c)
	}
	return err
}
