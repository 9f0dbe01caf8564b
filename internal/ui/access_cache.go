package ui

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// The organizations page asks RBAC, per namespace holding an EnterpriseIdentity, what the admin
// may read there: with hundreds of tenant namespaces one view costs hundreds of access reviews,
// and any identity may view the page, one with no rights at all included. So an identity's
// answers are kept for accessAnswersTTL (for the same namespaces), and one identity computes at
// most one view's answers at a time: a page reloaded in a loop, or in parallel, costs the API
// server one view's reviews per TTL, not one per request. A right granted or taken away shows on
// the page within the TTL; what an admin opens or changes is checked on its own, every time.
//
// Distinct identities are not bounded so: at most maxViewsPreparing views are prepared at once
// on a replica (429 beyond), so tenants signing in as many service accounts cannot make the page
// ask RBAC about every namespace for each of them at once.
const (
	accessAnswersTTL       = 30 * time.Second
	maxCachedAccessAnswers = 1024
	maxViewsPreparing      = 4
)

// accessAnswers is what RBAC answered for one identity over a set of namespaces.
type accessAnswers struct {
	namespaces map[string]namespaceAccess // names is shared, never changed
}

// accessCache holds identities' answers and which identities are computing theirs.
type accessCache struct {
	once      sync.Once
	answers   *expirable.LRU[string, *accessAnswers]
	mu        sync.Mutex
	computing map[string]bool // len is the views being prepared
}

func (c *accessCache) init() {
	c.once.Do(func() {
		c.answers = expirable.NewLRU[string, *accessAnswers](maxCachedAccessAnswers, nil, accessAnswersTTL)
		c.computing = map[string]bool{}
	})
}

// begin starts one view's computation for the identity key; not started while the identity's
// previous view (own) or maxViewsPreparing views in all are being prepared.
func (c *accessCache) begin(key string) (started, own bool) {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.computing[key] {
		return false, true
	}
	if len(c.computing) >= maxViewsPreparing {
		return false, false
	}
	c.computing[key] = true
	return true, false
}

func (c *accessCache) end(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.computing, key)
}

func (c *accessCache) get(key string) (*accessAnswers, bool) {
	c.init()
	return c.answers.Get(key)
}

func (c *accessCache) put(key string, a *accessAnswers) {
	c.init()
	c.answers.Add(key, a)
}

// perCredentialExtras name one token rather than its holder: every service account token
// carries a credential ID (Kubernetes 1.30+), a pod-bound one its pod and node. A tenant minting
// fresh tokens would otherwise make each view a new identity, asking RBAC again. They are left
// out of the key; the access reviews themselves still carry them.
var perCredentialExtras = map[string]bool{
	"authentication.kubernetes.io/credential-id": true,
	"authentication.kubernetes.io/pod-name":      true,
	"authentication.kubernetes.io/pod-uid":       true,
	"authentication.kubernetes.io/node-name":     true,
	"authentication.kubernetes.io/node-uid":      true,
}

// accessKey names an identity as RBAC sees it (user, UID, groups, extras but the per-credential
// ones), and the namespaces it was asked about.
func accessKey(who service.Identity, namespaces []string) string {
	h := sha256.New()
	write := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	write(who.User)
	write(who.UID)
	groups := slices.Clone(who.Groups)
	sort.Strings(groups)
	for _, g := range groups {
		write("g:" + g)
	}
	keys := make([]string, 0, len(who.Extra))
	for k := range who.Extra {
		if !perCredentialExtras[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		write("e:" + k)
		for _, v := range who.Extra[k] {
			write(v)
		}
	}
	for _, ns := range namespaces {
		write("n:" + ns)
	}
	return hex.EncodeToString(h.Sum(nil))
}
