package controllers

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/claims"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
)

// A tenant with rights in its own namespace can create EnterpriseIdentities without end, and each
// organization one of them claims costs every replica: an SSO check against the identity
// provider, a served tenant (rate limiter, token, metrics series), status summaries, event
// delivery. So the installation bounds the organizations one namespace holds
// (--max-organizations-per-namespace): an identity that would claim one more is refused before
// its SSO is checked, and says why. An identity already holding its claim keeps it whatever the
// limit (lowering the limit never takes an organization away). Identities reconciled side by side
// reserve their place first (namespaceReservations), so together they do not pass the limit.

// How soon an identity refused for its namespace's limit looks again, besides being woken when a
// claim of its namespace changes: soon after its first refusal, within a minute while places are
// reserved by identities that may not claim after all, else every ten minutes.
const (
	namespaceLimitFirstRecheck    = 5 * time.Second
	namespaceLimitReservedRecheck = time.Minute
	namespaceLimitRecheck         = 10 * time.Minute
)

// checkNamespaceLimit refuses the identity when its namespace's identities already hold
// MaxOrganizationsPerNamespace organizations, or are about to, and this one holds none.
func (r *EnterpriseIdentityReconciler) checkNamespaceLimit(ctx context.Context, s *identityScope) error {
	if r.MaxOrganizationsPerNamespace <= 0 {
		return nil
	}
	identity := s.identity
	if _, held, err := claims.HeldBy(ctx, r.Client, identity); err != nil || held {
		if held {
			r.limits.release(identity.Namespace, identity.UID) // counted as a holder from now on
		}
		return err
	}
	held, err := r.namespaceClaims(ctx, identity.Namespace)
	if err != nil {
		return err
	}
	held.without(identity)
	count, reserved, ok := r.limits.reserve(identity.Namespace, identity.UID, held, r.MaxOrganizationsPerNamespace, r.Clock.Now())
	if ok {
		return nil
	}
	r.refuseClaim(s, v1alpha1.ReasonNamespaceOrganizationLimit, EventNamespaceLimit, fmt.Sprintf(
		"Namespace %s already holds %d organizations, the most this installation allows one namespace; "+
			"delete an EnterpriseIdentity it no longer needs, or ask the platform team to raise --max-organizations-per-namespace",
		identity.Namespace, count))
	switch {
	case !isConditionReason(identity.Status.Conditions, v1alpha1.ConditionReady, v1alpha1.ReasonNamespaceOrganizationLimit):
		// Newly refused: a place freed before this refusal is in its status is woken by no claim.
		s.requeue.in(namespaceLimitFirstRecheck)
	case reserved > 0:
		s.requeue.in(namespaceLimitReservedRecheck) // places reserved by identities that may not claim after all
	default:
		s.requeue.in(namespaceLimitRecheck)
	}
	return errStop
}

// claimed is what a namespace's claims hold: the organizations (held or kept with their data
// after their identity went), and the identities named as their holders.
type claimed struct {
	organizations map[string]bool
	holders       map[types.UID]bool
}

// without leaves out the identity's own organization and the identity: taking over its own
// slug's claim (a GitOps replace), or holding it already, adds no organization.
func (c claimed) without(identity *v1alpha1.EnterpriseIdentity) {
	delete(c.organizations, identity.Spec.Organization)
	delete(c.holders, identity.UID)
}

// namespaceClaims reads the claims of a namespace's organizations. Every one counts against its
// limit, held or not: an organization released with its data stays the namespace's (to take
// back, or for a cluster administrator to remove), and claiming and releasing slugs in turn must
// not pile up organizations past the limit.
func (r *EnterpriseIdentityReconciler) namespaceClaims(ctx context.Context, namespace string) (claimed, error) {
	list := &v1alpha1.OrganizationClaimList{}
	if err := r.List(ctx, list, client.MatchingFields{index.ClaimNamespace: namespace}, client.UnsafeDisableDeepCopy); err != nil {
		return claimed{}, fmt.Errorf("listing the organization claims of namespace %s: %w", namespace, err)
	}
	c := claimed{organizations: map[string]bool{}, holders: map[types.UID]bool{}}
	for i := range list.Items {
		c.organizations[list.Items[i].Name] = true
		if h := list.Items[i].Spec.Holder; h != nil && h.Namespace == namespace {
			c.holders[types.UID(h.UID)] = true
		}
	}
	return c, nil
}

// reservationTTL bounds how long an identity that passed the limit counts against its namespace
// before its claim shows in the cache (its SSO check, two requests of --sso-timeout at most, and
// its claim's creation). A reservation is released as soon as the claim shows, the identity is
// refused its organization, or it goes; the time only bounds what an unforeseen path leaves.
const reservationTTL = 5 * time.Minute

// namespaceReservations remembers the identities that passed the limit and have no claim in the
// cache yet, so identities reconciled side by side cannot all pass it. The leader alone claims;
// after a change of leader the cache, in sync again, counts what the last one claimed.
type namespaceReservations struct {
	mu       sync.Mutex
	reserved map[string]map[types.UID]time.Time
}

// reserve counts the namespace's organizations (the holders' and the reservations younger than
// reservationTTL) and, when fewer than max and uid is not yet among them, reserves one for uid;
// it reports the count, how many of it are reservations, and whether uid may claim.
func (n *namespaceReservations) reserve(namespace string, uid types.UID, held claimed, maximum int,
	now time.Time) (count, reserved int, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.reserved == nil {
		n.reserved = map[string]map[types.UID]time.Time{}
	}
	mine := n.reserved[namespace]
	for id, at := range mine {
		if held.holders[id] || now.Sub(at) > reservationTTL {
			delete(mine, id) // claimed (the cache counts it now) or given up
		}
	}
	count = len(held.organizations) + len(mine)
	if _, ok := mine[uid]; ok {
		mine[uid] = now
		return count, len(mine), true
	}
	if count >= maximum {
		if len(mine) == 0 {
			delete(n.reserved, namespace)
		}
		return count, len(mine), false
	}
	if mine == nil {
		mine = map[types.UID]time.Time{}
		n.reserved[namespace] = mine
	}
	mine[uid] = now
	return count + 1, len(mine), true
}

// count is how many live reservations the namespace has, beside its holders.
func (n *namespaceReservations) count(namespace string, held claimed, now time.Time) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for id, at := range n.reserved[namespace] {
		if !held.holders[id] && now.Sub(at) <= reservationTTL {
			c++
		}
	}
	return c
}

// release drops uid's reservation: it holds its claim (and counts as a holder), or is going.
func (n *namespaceReservations) release(namespace string, uid types.UID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if mine := n.reserved[namespace]; mine != nil {
		delete(mine, uid)
		if len(mine) == 0 {
			delete(n.reserved, namespace)
		}
	}
}

// limitedIn lists the identities of a namespace refused for its limit that may claim now: as
// many as the namespace has free places, oldest first (a claim event wakes a few, not thousands).
func (r *EnterpriseIdentityReconciler) limitedIn(ctx context.Context, namespace string) []client.ObjectKey {
	if r.MaxOrganizationsPerNamespace <= 0 || namespace == "" {
		return nil
	}
	held, err := r.namespaceClaims(ctx, namespace)
	if err != nil {
		return nil
	}
	free := r.MaxOrganizationsPerNamespace - len(held.organizations) - r.limits.count(namespace, held, r.Clock.Now())
	if free <= 0 {
		return nil
	}
	list := &v1alpha1.EnterpriseIdentityList{}
	if err := r.List(ctx, list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var refused []*v1alpha1.EnterpriseIdentity
	for i := range list.Items {
		if isConditionReason(list.Items[i].Status.Conditions, v1alpha1.ConditionReady, v1alpha1.ReasonNamespaceOrganizationLimit) {
			refused = append(refused, &list.Items[i])
		}
	}
	sort.Slice(refused, func(i, j int) bool { return claims.Earlier(refused[i], refused[j]) })
	out := make([]client.ObjectKey, 0, min(free, len(refused)))
	for _, identity := range refused[:min(free, len(refused))] {
		out = append(out, client.ObjectKeyFromObject(identity))
	}
	return out
}
