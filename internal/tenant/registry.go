// Package tenant is the data plane's view of organizations: which are served, whether their
// integration is enabled, and the hashes of the tokens that may call them. It is filled from the
// manager's informer cache on every replica, so changes apply within seconds without restarts.
package tenant

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// Authentication outcomes.
var (
	// ErrUnauthorized covers a missing token, a wrong one and an unknown organization alike, so
	// the answer reveals nothing about which organizations exist.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrDisabled: the token is right but the integration is switched off.
	ErrDisabled = errors.New("provisioning is disabled for this organization")
	// ErrUnbound: the token is right, but the store says the organization's data is no longer
	// bound as this replica serves it (BindingCheck): deleted or moved while this replica's view of
	// Kubernetes lags.
	ErrUnbound = errors.New("the organization's data is not bound as this replica serves it")
)

// Credential is a token hash that may call an organization until NotAfter (zero: no end).
type Credential struct {
	SHA256   [sha256.Size]byte
	NotAfter time.Time
	// Current is false for the previous token during a rotation overlap.
	Current bool
}

// Organization is one served organization.
type Organization struct {
	Name string
	// Binding is what the organization is served under, the UIDs of its claim and of the
	// integration: its writes land only while the organization's data is bound to them
	// (store.Write.Binding).
	Binding store.Binding
	// Integration is the ScimIntegration serving it.
	Integration types.NamespacedName
	Enabled     bool
	Credentials []Credential
	// TokenSecret is the Secret holding the token; Generated says the operator owns it (and may
	// annotate it), as opposed to a bring-your-own Secret it never changes.
	TokenSecret types.NamespacedName
	Generated   bool
	// Retrievable is true while the plaintext token is still in the Secret.
	Retrievable bool
	// TokenLastUsed is when any replica last accepted a token of the organization since the last
	// rotation (the Secret's annotation, at most once a minute; generated tokens only); zero when
	// unknown.
	TokenLastUsed time.Time
	// Policy is the integration's provisioning policy.
	Policy provisioning.Policy
	// AuditRetention is how long the organization's audit events are kept; EventRetention its
	// provisioning events.
	AuditRetention, EventRetention time.Duration
	// RateLimit bounds the organization's requests (per replica).
	RateLimit RateLimit
}

// Caller is an authenticated request's organization and token.
type Caller struct {
	Organization *Organization
	// Fingerprint names the token used (never the token itself).
	Fingerprint string
	Current     bool
}

// Registry maps organization slugs to what the data plane needs to serve them.
type Registry struct {
	mu     sync.RWMutex
	byOrg  map[string]*Organization
	orgOf  map[types.NamespacedName]string
	now    func() time.Time
	uses   chan Caller
	listen atomic.Bool
	// settled records the integrations the Source has decided on, until the data plane starts
	// serving (WaitSettled); nil afterwards.
	settled map[types.NamespacedName]bool
	// forgotten is called, outside the lock, with each organization no longer served, so what is
	// kept per organization elsewhere (its metrics' series) goes with it (SetOnForget).
	forgotten atomic.Pointer[func(org string)]
	// unbound are the served organizations whose data the store says is bound otherwise
	// (BindingCheck); nil: none.
	unbound atomic.Pointer[map[string]bool]
	// refused is what this replica no longer serves of organizations because the store's record
	// says so (BindingCheck: tokens rotated away or replaced, integrations switched off while
	// this replica's view lags); nil: nothing.
	refused atomic.Pointer[map[string]*refusal]
	// switchedOn are the organizations whose integration this replica saw switched on again since
	// the last BindingCheck (servedOrganizations takes them).
	switchedOn map[string]bool
}

// SetOnForget sets what is called with each organization the registry stops serving.
func (r *Registry) SetOnForget(f func(org string)) { r.forgotten.Store(&f) }

// forget reports organizations no longer served; the caller no longer holds the lock.
func (r *Registry) forget(orgs ...string) {
	f := r.forgotten.Load()
	if f == nil {
		return
	}
	for _, org := range orgs {
		if org != "" && !r.Serving(org) {
			(*f)(org)
		}
	}
}

// NewRegistry returns an empty registry. Successful authentications are reported on Uses (best
// effort: when nobody reads, reports are dropped, never blocking a request).
func NewRegistry() *Registry {
	return &Registry{byOrg: map[string]*Organization{}, orgOf: map[types.NamespacedName]string{}, now: time.Now, uses: make(chan Caller, 256),
		settled: map[types.NamespacedName]bool{}}
}

// Uses delivers successful authentications, for acknowledging tokens and recording last use.
func (r *Registry) Uses() <-chan Caller { return r.uses }

// Set serves an organization for an integration, replacing what that integration had. The Source
// sets only an integration whose identity holds the organization's claim, so the latest Set of
// an organization is its holder: it replaces an integration that served it before (which the
// claim's change also removes).
func (r *Registry) Set(org *Organization) {
	var renamed string
	defer func() { r.forget(renamed) }()
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.orgOf[org.Integration]; ok && old != org.Name {
		if holder := r.byOrg[old]; holder != nil && holder.Integration == org.Integration {
			delete(r.byOrg, old)
			renamed = old
		}
	}
	holder, held := r.byOrg[org.Name]
	if held && holder.Integration != org.Integration {
		delete(r.orgOf, holder.Integration)
	}
	if !held || holder.Binding != org.Binding {
		defer r.clearUnbound(org.Name) // served anew: the next binding check decides again
	}
	if !held || !sameTokens(holder.Credentials, org.Credentials) || holder.Enabled != org.Enabled {
		defer r.clearRefused(org.Name) // served otherwise: the next check decides again
	}
	if held && !holder.Enabled && org.Enabled {
		if r.switchedOn == nil {
			r.switchedOn = map[string]bool{}
		}
		r.switchedOn[org.Name] = true
	}
	r.byOrg[org.Name] = org
	r.orgOf[org.Integration] = org.Name
	r.settle(org.Integration)
}

// ServedBy returns the integration an organization is served for.
func (r *Registry) ServedBy(org string) (types.NamespacedName, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	o, ok := r.byOrg[org]
	if !ok {
		return types.NamespacedName{}, false
	}
	return o.Integration, true
}

// ServingFor reports whether this data plane answers an organization's requests for this
// integration (not for another one that claims the same slug).
func (r *Registry) ServingFor(org string, integration types.NamespacedName) bool {
	served, ok := r.ServedBy(org)
	return ok && served == integration && r.listen.Load()
}

// Remove stops serving what an integration served.
func (r *Registry) Remove(integration types.NamespacedName) {
	var removed string
	defer func() { r.forget(removed) }()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.settle(integration)
	if org, ok := r.orgOf[integration]; ok {
		if holder := r.byOrg[org]; holder != nil && holder.Integration == integration {
			delete(r.byOrg, org)
			removed = org
		}
		delete(r.orgOf, integration)
	}
}

// Organizations returns the served organizations.
func (r *Registry) Organizations() []Organization {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Organization, 0, len(r.byOrg))
	for _, o := range r.byOrg {
		out = append(out, *o)
	}
	return out
}

// Organization returns the organization served under a name (a copy), without listing them all:
// the admin API asks it on every request.
func (r *Registry) Organization(name string) (Organization, bool) {
	if r.isUnbound(name) {
		return Organization{}, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	o, ok := r.byOrg[name]
	if !ok {
		return Organization{}, false
	}
	return *o, true
}

// MarkListening records that the HTTP server accepts connections.
func (r *Registry) MarkListening(ok bool) { r.listen.Store(ok) }

// Listening says whether the HTTP server accepts connections (readiness).
func (r *Registry) Listening() bool { return r.listen.Load() }

// Serving reports whether requests for an organization are answered by this data plane.
func (r *Registry) Serving(org string) bool {
	if !r.listen.Load() {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.byOrg[org]
	return ok
}

// ServedBinding returns the binding an organization is served under, and whether it is served.
func (r *Registry) ServedBinding(org string) (store.Binding, bool) {
	if !r.listen.Load() {
		return store.Binding{}, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if o, ok := r.byOrg[org]; ok {
		return o.Binding, true
	}
	return store.Binding{}, false
}

// Authenticate checks a presented bearer token for an organization, comparing SHA-256 hashes in
// constant time.
func (r *Registry) Authenticate(org, presented string) (*Caller, error) {
	sum := sha256.Sum256([]byte(presented))
	r.mu.RLock()
	o := r.byOrg[org]
	r.mu.RUnlock()
	if o == nil || presented == "" {
		// Compare anyway, so an unknown organization costs what a known one does.
		subtle.ConstantTimeCompare(sum[:], make([]byte, sha256.Size))
		return nil, ErrUnauthorized
	}
	now := r.now()
	var match *Credential
	for i := range o.Credentials {
		c := &o.Credentials[i]
		if subtle.ConstantTimeCompare(sum[:], c.SHA256[:]) == 1 && (c.NotAfter.IsZero() || now.Before(c.NotAfter)) {
			match = c
		}
	}
	if match == nil || r.isRefused(org, match.SHA256) {
		return nil, ErrUnauthorized
	}
	if r.isUnbound(org) {
		return nil, ErrUnbound
	}
	if !o.Enabled || r.isSwitchedOff(org) {
		return nil, ErrDisabled
	}
	caller := &Caller{Organization: o, Fingerprint: token.Fingerprint(hex.EncodeToString(sum[:])), Current: match.Current}
	select {
	case r.uses <- *caller:
	default:
	}
	return caller, nil
}

// sameTokens reports whether two credential lists accept the same tokens.
func sameTokens(a, b []Credential) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].SHA256 != b[i].SHA256 {
			return false
		}
	}
	return true
}
