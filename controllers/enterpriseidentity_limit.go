package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/claims"
)

// A tenant with rights in its own namespace can create EnterpriseIdentities without end, and each
// organization one of them claims costs every replica: an SSO check against the identity
// provider, a served tenant (rate limiter, token, metrics series), status summaries, event
// delivery. So the installation bounds the organizations one namespace holds
// (--max-organizations-per-namespace): an identity that would claim one more is refused before
// its SSO is checked, and says why. An identity already holding its claim keeps it whatever the
// limit (lowering the limit never takes an organization away). Identities reconciled side by side
// reserve their place first (namespaceReservations), so together they do not pass the limit.

// namespaceLimitRecheck is how often an identity refused for its namespace's limit looks again,
// besides being woken when a claim of its namespace changes.
const namespaceLimitRecheck = 10 * time.Minute

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
	list := &v1alpha1.OrganizationClaimList{}
	if err := r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing organization claims: %w", err)
	}
	holders := map[types.UID]bool{}
	for i := range list.Items {
		h := list.Items[i].Spec.Holder
		if list.Items[i].Spec.Namespace == identity.Namespace && h != nil && h.Namespace == identity.Namespace {
			holders[types.UID(h.UID)] = true
		}
	}
	held, reserved, ok := r.limits.reserve(identity.Namespace, identity.UID, holders, r.MaxOrganizationsPerNamespace, r.Clock.Now())
	if ok {
		return nil
	}
	r.refuseClaim(s, v1alpha1.ReasonNamespaceOrganizationLimit, EventNamespaceLimit, fmt.Sprintf(
		"Namespace %s already holds %d organizations, the most this installation allows one namespace; "+
			"delete an EnterpriseIdentity it no longer needs, or ask the platform team to raise --max-organizations-per-namespace",
		identity.Namespace, held))
	if reserved > 0 {
		s.requeue.in(reservationTTL) // places reserved by identities that may not claim after all
	} else {
		s.requeue.in(namespaceLimitRecheck)
	}
	return errStop
}

// reservationTTL is how long an identity that passed the limit counts against its namespace
// before its claim shows in the cache: its SSO check and its claim's creation.
const reservationTTL = time.Minute

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
func (n *namespaceReservations) reserve(namespace string, uid types.UID, holders map[types.UID]bool, maximum int,
	now time.Time) (count, reserved int, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.reserved == nil {
		n.reserved = map[string]map[types.UID]time.Time{}
	}
	mine := n.reserved[namespace]
	for id, at := range mine {
		if holders[id] || now.Sub(at) > reservationTTL {
			delete(mine, id) // claimed (the cache counts it now) or given up
		}
	}
	count = len(holders) + len(mine)
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

// limitedIn lists the identities of a namespace refused for its limit, to wake when one of its
// claims changes.
func (r *EnterpriseIdentityReconciler) limitedIn(ctx context.Context, namespace string) []client.ObjectKey {
	if r.MaxOrganizationsPerNamespace <= 0 || namespace == "" {
		return nil
	}
	list := &v1alpha1.EnterpriseIdentityList{}
	if err := r.List(ctx, list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []client.ObjectKey
	for i := range list.Items {
		if isConditionReason(list.Items[i].Status.Conditions, v1alpha1.ConditionReady, v1alpha1.ReasonNamespaceOrganizationLimit) {
			out = append(out, client.ObjectKeyFromObject(&list.Items[i]))
		}
	}
	return out
}
