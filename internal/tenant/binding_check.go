package tenant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"github.com/go-logr/logr"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
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

// The same replica keeps accepting the tokens it last knew: one rotated away with no overlap, or
// a bring-your-own Secret's token replaced after a leak. So the controller records in the store
// the fingerprints of the tokens each integration accepts, and the check refuses (401) a token
// the replica accepts that the record does not list, also after seeing it twice in a row, when
// the record changed after the replica learned the token (its version moved). A replica whose
// view is ahead of the controller's record (it learned a token before the controller recorded
// it) refuses nothing: the record it sees has not changed since, and the controller's next
// record lists the token. Revoking a token always changes the record.

// DefaultBindingCheckInterval is how often a replica compares its bindings with the store's.
const DefaultBindingCheckInterval = 2 * time.Second

// Bindings reads organizations' bindings and recorded tokens (the store).
type Bindings interface {
	OrganizationBindings(ctx context.Context, orgs []string) (map[string]store.BoundOrganization, error)
}

// BindingCheck runs the comparison on every replica.
type BindingCheck struct {
	Store    Bindings
	Registry *Registry
	Interval time.Duration
	Log      logr.Logger

	seen       map[string]bool         // binding mismatches seen in the last round
	seenTokens map[credentialKey]bool  // tokens the store did not list in the last round
	known      map[credentialKey]int64 // the record's version when the check first saw each served token
}

// credentialKey names one token of one organization.
type credentialKey struct {
	org  string
	hash [sha256.Size]byte
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
	c.Registry.setRefused(c.unlistedTokens(served, bound), served)
}

// unlistedTokens returns, per organization, the tokens this replica accepts that the store's
// record did not list in this round and the last, although it changed after the replica learned
// them.
func (c *BindingCheck) unlistedTokens(served map[string]servedOrganization, bound map[string]store.BoundOrganization) map[string]map[[sha256.Size]byte]bool {
	now := time.Now()
	known := map[credentialKey]int64{}
	seen := map[credentialKey]bool{}
	refused := map[string]map[[sha256.Size]byte]bool{}
	for org, sv := range served {
		record := bound[org]
		for _, cred := range sv.Credentials {
			key := credentialKey{org: org, hash: cred.SHA256}
			learned, ok := c.known[key]
			if !ok {
				learned = record.TokensVersion
			}
			known[key] = learned
			expired := !cred.NotAfter.IsZero() && !now.Before(cred.NotAfter) // refused anyway
			if record.Tokens == nil || expired || record.TokensVersion <= learned || !record.Holds(sv.Binding) ||
				slices.Contains(record.Tokens, token.Fingerprint(hex.EncodeToString(cred.SHA256[:]))) {
				continue
			}
			seen[key] = true
			if !c.seenTokens[key] {
				continue
			}
			if refused[org] == nil {
				refused[org] = map[[sha256.Size]byte]bool{}
			}
			refused[org][cred.SHA256] = true
			if !c.Registry.isRefused(org, cred.SHA256) {
				c.Log.Info("The store does not list a token this replica accepts for this organization "+
					"(rotated away or replaced while this replica's view of Kubernetes lags); refusing it until they agree",
					"organization", org, "token", token.Fingerprint(hex.EncodeToString(cred.SHA256[:])))
			}
		}
	}
	c.known, c.seenTokens = known, seen
	return refused
}

// servedOrganization is what the check compares of a served organization.
type servedOrganization struct {
	Binding     store.Binding
	Credentials []Credential
	set         *Organization // what Set served it as (a later Set decides anew)
}

// servedOrganizations returns each served organization's binding and tokens: every few seconds
// on every replica, so not Organizations' copies of every organization's policy.
func (r *Registry) servedOrganizations() map[string]servedOrganization {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make(map[string]servedOrganization, len(r.byOrg))
	for name, o := range r.byOrg {
		out[name] = servedOrganization{Binding: o.Binding, Credentials: o.Credentials, set: o} // Set replaces the slice, never changes it
	}
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

// setRefused replaces the tokens refused because the store does not list them, leaving out the
// organizations set anew since the check read them (the next check decides for those). Under the
// registry's lock, as Set's clearRefused is: neither undoes the other.
func (r *Registry) setRefused(refused map[string]map[[sha256.Size]byte]bool, checked map[string]servedOrganization) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for org := range refused {
		if r.byOrg[org] != checked[org].set {
			delete(refused, org)
		}
	}
	r.storeRefused(refused)
}

func (r *Registry) storeRefused(refused map[string]map[[sha256.Size]byte]bool) {
	if len(refused) == 0 {
		r.refused.Store(nil)
		return
	}
	r.refused.Store(&refused)
}

// clearRefused accepts org's tokens again, until the next check finds one unlisted. r.mu is held.
func (r *Registry) clearRefused(org string) {
	m := r.refused.Load()
	if m == nil || (*m)[org] == nil {
		return
	}
	next := make(map[string]map[[sha256.Size]byte]bool, len(*m))
	for k, v := range *m {
		if k != org {
			next[k] = v
		}
	}
	r.storeRefused(next)
}

// isRefused reports a token of org the store does not list.
func (r *Registry) isRefused(org string, hash [sha256.Size]byte) bool {
	m := r.refused.Load()
	return m != nil && (*m)[org][hash]
}
