package tenant

import (
	"context"
	"time"

	"github.com/go-logr/logr"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// A replica learns which organizations it serves, and for which claim and integration, from its
// watch on the Kubernetes API. A replica whose watch stalls (an overloaded API server, a network
// fault between it and the API server, but not the database) stays ready and keeps serving what
// it knew: after an organization's data was deleted and its slug claimed by another namespace, it
// would answer the old identity provider's token with the new owner's users. Writes are fenced
// in the store (decision 0020); reads are not. So every replica compares, every few seconds, the
// bindings it serves with the store's, and stops answering for an organization whose data is
// bound otherwise (503: a retry meets the organization as it is) until its view catches up. A
// mismatch must be seen twice in a row: a healthy replica's watch catches up within moments of a
// new binding, and a replica serving an organization just set up should not flap.

// DefaultBindingCheckInterval is how often a replica compares its bindings with the store's.
const DefaultBindingCheckInterval = 2 * time.Second

// Bindings reads organizations' bindings and what their integrations serve (the store).
type Bindings interface {
	OrganizationBindings(ctx context.Context, orgs []string) (map[string]store.BoundOrganization, error)
}

// BindingCheck runs the comparison on every replica.
type BindingCheck struct {
	Store    Bindings
	Registry *Registry
	Interval time.Duration
	Log      logr.Logger

	seen        map[string]bool      // binding mismatches seen in the last round
	seenServing map[servingKey]bool  // differences from the store's record seen in the last round
	known       map[servingKey]int64 // the record's version when the check first saw each
	versions    map[servingKey]int64 // each served organization's record version in the last round (org and binding)
}

// NeedLeaderElection is false: every replica serves, so every replica checks.
func (c *BindingCheck) NeedLeaderElection() bool { return false }

// Start checks until ctx ends.
func (c *BindingCheck) Start(ctx context.Context) error {
	interval := c.Interval
	if interval <= 0 {
		interval = DefaultBindingCheckInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			c.Check(ctx)
		}
	}
}

// Check runs one comparison. A store that does not answer changes nothing: writes are fenced
// anyway, and a database outage must not stop every organization's reads.
func (c *BindingCheck) Check(ctx context.Context) {
	served := c.Registry.servedOrganizations()
	names := make([]string, 0, len(served))
	for org := range served {
		names = append(names, org)
	}
	bound, err := c.Store.OrganizationBindings(ctx, names)
	if err != nil {
		c.Registry.keepSwitchedOn(served) // for the next round that reaches the store
		c.Log.Error(err, "Comparing the served organizations' bindings with the store's")
		return
	}
	seen := map[string]bool{}
	unbound := map[string]bool{}
	for org, sv := range served {
		if bound[org].Holds(sv.Binding) {
			continue
		}
		if now, ok := c.Registry.ServedBinding(org); !ok || now != sv.Binding {
			continue // set anew while the store was asked: the next check decides
		}
		seen[org] = true
		if c.seen[org] {
			unbound[org] = true
		}
	}
	for org := range unbound {
		if !c.Registry.isUnbound(org) {
			c.Log.Info("The store binds this organization's data otherwise than this replica serves it; not answering for it until they agree",
				"organization", org)
		}
	}
	c.seen = seen
	c.Registry.setUnbound(unbound)
	c.Registry.setRefused(c.outdatedServing(served, bound), served)
}

// servedOrganization is what the check compares of a served organization.
type servedOrganization struct {
	Binding     store.Binding
	Credentials []Credential
	Enabled     bool
	// switchedOn: this replica saw the integration switched on again since the last check.
	switchedOn bool
	set        *Organization // what Set served it as (a later Set decides anew)
}

// servedOrganizations returns what each served organization is served as: every few seconds
// on every replica, so not Organizations' copies of every organization's policy.
func (r *Registry) servedOrganizations() map[string]servedOrganization {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]servedOrganization, len(r.byOrg))
	for name, o := range r.byOrg {
		// Set replaces the slice, never changes it.
		out[name] = servedOrganization{Binding: o.Binding, Credentials: o.Credentials, Enabled: o.Enabled, switchedOn: r.switchedOn[name], set: o}
	}
	r.switchedOn = nil
	return out
}

// setUnbound replaces the organizations not answered for.
func (r *Registry) setUnbound(orgs map[string]bool) {
	if len(orgs) == 0 {
		r.unbound.Store(nil)
		return
	}
	r.unbound.Store(&orgs)
}

// clearUnbound answers for org again, until the next check finds it unbound.
func (r *Registry) clearUnbound(org string) {
	m := r.unbound.Load()
	if m == nil || !(*m)[org] {
		return
	}
	next := make(map[string]bool, len(*m))
	for k := range *m {
		if k != org {
			next[k] = true
		}
	}
	r.setUnbound(next)
}

// isUnbound reports an organization the store binds otherwise than this replica serves it.
func (r *Registry) isUnbound(org string) bool {
	m := r.unbound.Load()
	return m != nil && (*m)[org]
}

// keepSwitchedOn puts back what servedOrganizations took of integrations switched on again, for a
// round that did not reach the store.
func (r *Registry) keepSwitchedOn(served map[string]servedOrganization) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for org, sv := range served {
		if sv.switchedOn {
			if r.switchedOn == nil {
				r.switchedOn = map[string]bool{}
			}
			r.switchedOn[org] = true
		}
	}
}
