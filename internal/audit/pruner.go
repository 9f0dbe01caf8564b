// Package audit keeps the SCIM audit log and the provisioning events within each organization's
// retention (ScimIntegration.spec.audit.retention, spec.events.retention).
package audit

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Pruner deletes audit events older than their organization's retention, periodically, on the
// elected leader only (one replica is enough; the store is shared).
type Pruner struct {
	Store    store.Store
	Registry *tenant.Registry
	// Interval between passes; the first pass runs at start.
	Interval time.Duration
	Now      func() time.Time
}

// NeedLeaderElection is true: one replica prunes.
func (p *Pruner) NeedLeaderElection() bool { return true }

// Start prunes until ctx ends.
func (p *Pruner) Start(ctx context.Context) error {
	tick := time.NewTicker(p.Interval)
	defer tick.Stop()
	for {
		p.Prune(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Prune runs one pass over the served organizations.
func (p *Pruner) Prune(ctx context.Context) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	log := ctrl.Log.WithName("audit")
	for _, o := range p.Registry.Organizations() {
		if _, served := p.Registry.Organization(o.Name); !served {
			continue // the store binds its data otherwise (tenant.BindingCheck): not this retention's to prune
		}
		if o.AuditRetention > 0 {
			n, err := p.Store.PruneAudit(ctx, o.Name, now().Add(-o.AuditRetention))
			if err != nil {
				log.Error(err, "Pruning the audit log", "organization", o.Name)
			} else if n > 0 {
				log.V(1).Info("Pruned audit events", "organization", o.Name, "events", n)
			}
		}
		if o.EventRetention > 0 {
			n, err := p.Store.PruneEvents(ctx, o.Name, now().Add(-o.EventRetention))
			if err != nil {
				log.Error(err, "Pruning provisioning events", "organization", o.Name)
			} else if n > 0 {
				log.V(1).Info("Pruned provisioning events", "organization", o.Name, "events", n)
			}
		}
	}
}
