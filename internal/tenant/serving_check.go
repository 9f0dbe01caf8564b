package tenant

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// A replica whose view of Kubernetes stalled also keeps serving an organization as it last knew
// it: accepting a token rotated away with no overlap, or a bring-your-own Secret's token replaced
// after a leak, and answering for an integration an administrator switched off to stop its
// identity provider. So the controller records in the store what each integration serves (the
// fingerprints of its tokens, whether it is switched off: store.Serving), and the binding check
// compares it with the replica's view: a token the record does not list is refused (401), and
// an integration recorded as switched off answers as such, each after being seen twice in a row,
// and only when the record changed after the replica learned what it serves (its version moved).
// So a replica whose view is ahead of the controller's record (it learned a token, or that the
// integration is on again, before the controller recorded it) changes nothing: the record it
// sees has not changed since, and the controller's next record agrees with it. Revoking a token
// or switching an integration off always changes the record. What the replica learned since the
// last round is measured against that round's record, so a revocation recorded in between still
// counts; the cost is a moment's refusal when the record in between is of a state the replica
// has already left (a bring-your-own Secret changed twice in quick succession, the controller
// recording the first change), until the controller's next pass, within about a second. Tokens
// are compared by fingerprint (token.Fingerprint, 48 bits of the hash), which names a token,
// never proves one.

// servingKey names one thing a replica serves of an organization under a binding: a token, or
// (enabled) that its integration is switched on. The binding is part of it: an organization
// deleted and bound anew counts its record's versions from the start again.
type servingKey struct {
	org     string
	binding store.Binding
	hash    [sha256.Size]byte
	enabled bool
}

// refusal is what a replica no longer serves of an organization, as the store's record says.
type refusal struct {
	tokens   map[[sha256.Size]byte]bool
	disabled bool
}

// servingRound is one comparison's account of what the replica serves against the record.
type servingRound struct {
	last            *BindingCheck
	known, versions map[servingKey]int64
	seen            map[servingKey]bool
}

// outdated reports whether key, which the record contradicts when contradicted, has been so for
// two rounds since the record changed after the replica learned it (relearned: just now).
func (r *servingRound) outdated(key servingKey, record store.BoundOrganization, contradicted, relearned bool) bool {
	learned, ok := r.last.known[key]
	if !ok || relearned {
		// Learned since the last round: the record as that round read it is the latest the
		// replica's view may be behind of (a revocation recorded between the two counts).
		learned = record.Version
		if last, seen := r.last.versions[servingKey{org: key.org, binding: key.binding}]; seen {
			learned = min(learned, last)
		}
	}
	r.known[key] = learned
	if !contradicted || record.Version <= learned {
		return false
	}
	r.seen[key] = true
	return r.last.seenServing[key]
}

// outdatedServing returns, per organization, what this replica serves that the store's record
// contradicted in this round and the last, although it changed after the replica learned it.
func (c *BindingCheck) outdatedServing(served map[string]servedOrganization, bound map[string]store.BoundOrganization) map[string]*refusal {
	round := &servingRound{last: c, known: map[servingKey]int64{}, versions: map[servingKey]int64{}, seen: map[servingKey]bool{}}
	out := map[string]*refusal{}
	for org, sv := range served {
		record := bound[org]
		round.versions[servingKey{org: org, binding: sv.Binding}] = record.Version
		if refuse := c.outdatedOf(round, org, sv, record); refuse.tokens != nil || refuse.disabled {
			out[org] = refuse
		}
	}
	c.known, c.seenServing, c.versions = round.known, round.seen, round.versions
	return out
}

// outdatedOf is what the round finds outdated of one served organization.
func (c *BindingCheck) outdatedOf(round *servingRound, org string, sv servedOrganization, record store.BoundOrganization) *refusal {
	now := time.Now()
	// Nothing recorded (an earlier release) contradicts nothing, nor a record of another binding
	// (the binding check's); what the replica serves is learned all the same, so the first record
	// is acted on.
	recorded := record.Tokens != nil && record.Holds(sv.Binding)
	refuse := &refusal{}
	for _, cred := range sv.Credentials {
		expired := !cred.NotAfter.IsZero() && !now.Before(cred.NotAfter) // refused anyway
		fingerprint := token.Fingerprint(hex.EncodeToString(cred.SHA256[:]))
		unlisted := recorded && !expired && !slices.Contains(record.Tokens, fingerprint)
		if !round.outdated(servingKey{org: org, binding: sv.Binding, hash: cred.SHA256}, record, unlisted, false) {
			continue
		}
		if refuse.tokens == nil {
			refuse.tokens = map[[sha256.Size]byte]bool{}
		}
		refuse.tokens[cred.SHA256] = true
		if !c.Registry.isRefused(org, cred.SHA256) {
			c.Log.Info("The store does not list a token this replica accepts for this organization "+
				"(rotated away or replaced while this replica's view of Kubernetes lags); refusing it until they agree",
				"organization", org, "token", fingerprint)
		}
	}
	// Switched off and on again between two checks, the replica learned it is on anew.
	if sv.Enabled && round.outdated(servingKey{org: org, binding: sv.Binding, enabled: true}, record, recorded && record.Disabled, sv.switchedOn) {
		refuse.disabled = true
		if !c.Registry.isSwitchedOff(org) {
			c.Log.Info("The store records this organization's integration as switched off while this replica's view of "+
				"Kubernetes lags; answering as switched off until they agree", "organization", org)
		}
	}
	return refuse
}

// setRefused replaces what is refused because the store's record says so, leaving out the
// organizations set anew since the check read them (the next check decides for those). Under the
// registry's lock, as Set's clearRefused is: neither undoes the other.
func (r *Registry) setRefused(refused map[string]*refusal, checked map[string]servedOrganization) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for org := range refused {
		if r.byOrg[org] != checked[org].set {
			delete(refused, org)
		}
	}
	r.storeRefused(refused)
}

func (r *Registry) storeRefused(refused map[string]*refusal) {
	if len(refused) == 0 {
		r.refused.Store(nil)
		return
	}
	r.refused.Store(&refused)
}

// clearRefused serves org as set again, until the next check finds the record contradicts it.
// r.mu is held.
func (r *Registry) clearRefused(org string) {
	m := r.refused.Load()
	if m == nil || (*m)[org] == nil {
		return
	}
	next := make(map[string]*refusal, len(*m))
	for k, v := range *m {
		if k != org {
			next[k] = v
		}
	}
	r.storeRefused(next)
}

// isRefused reports a token of org the store's record no longer lists.
func (r *Registry) isRefused(org string, hash [sha256.Size]byte) bool {
	m := r.refused.Load()
	return m != nil && (*m)[org] != nil && (*m)[org].tokens[hash]
}

// isSwitchedOff reports an organization whose integration the store's record says is switched off.
func (r *Registry) isSwitchedOff(org string) bool {
	m := r.refused.Load()
	return m != nil && (*m)[org] != nil && (*m)[org].disabled
}
