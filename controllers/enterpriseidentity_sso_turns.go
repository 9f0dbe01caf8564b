package controllers

import (
	"sync"
	"time"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// An SSO check that asks the identity provider (OIDC discovery and keys, a SAML metadata URL)
// holds one of the controller's workers for up to two request timeouts. A tenant whose
// identities all point at a provider that answers just inside the timeout would otherwise hold
// every worker, and every other organization's SSO checks would wait their turn. So one
// namespace asks its identity providers at most ssoChecksPerNamespace at a time; another of its
// identities is put back in the queue for a moment rather than hold a worker waiting.

// ssoChecksPerNamespace bounds the SSO checks one namespace runs at once.
const ssoChecksPerNamespace = 2

// ssoBusyRetry is how soon an identity whose namespace's checks are all running tries again.
const ssoBusyRetry = 2 * time.Second

// ssoTurns counts the SSO checks running per namespace.
type ssoTurns struct {
	mu      sync.Mutex
	running map[string]int
}

// take starts a check of namespace's, if it has a turn free.
func (t *ssoTurns) take(namespace string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running == nil {
		t.running = map[string]int{}
	}
	if t.running[namespace] >= ssoChecksPerNamespace {
		return false
	}
	t.running[namespace]++
	return true
}

// done ends a check taken with take.
func (t *ssoTurns) done(namespace string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.running[namespace]--; t.running[namespace] <= 0 {
		delete(t.running, namespace)
	}
}

// asksIdentityProvider says whether checking the identity's SSO sends requests: OIDC, or SAML
// metadata by URL (inline metadata is read where it is).
func asksIdentityProvider(identity *v1alpha1.EnterpriseIdentity) bool {
	sso := identity.Spec.SSO
	return sso.OIDC != nil || sso.SAML != nil && sso.SAML.Metadata == ""
}
