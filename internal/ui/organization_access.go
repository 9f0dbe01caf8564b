package ui

import (
	"context"
	"sort"

	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// The organizations page lists every EnterpriseIdentity of the cluster the admin may read. Asking
// RBAC once per object would let one tenant, by creating thousands of them in its own namespace,
// make every admin's page cost thousands of SubjectAccessReviews. So RBAC is asked per namespace
// (may who read all of a kind there?). Where that is refused, the admin's own rules in the
// namespace (a SelfSubjectRulesReview, as the admin) name the objects a per-object grant reaches,
// and only those are checked, each with a SubjectAccessReview (the rules are a hint, the review
// decides), at most namedChecksPerNamespace of them; the page says in which namespaces the admin
// was granted more, to open from their own URLs. A grant the rules cannot list (an authorizer
// other than RBAC that does not enumerate) is not found on the list either; such an organization
// is opened from its own URL, where it is checked alone.

// namedChecksPerNamespace bounds the per-object SubjectAccessReviews of one namespace per page view.
const namedChecksPerNamespace = 32

// namespaceAccess is what who may read in a namespace as a whole.
type namespaceAccess struct {
	identities, integrations bool
	// names, where the identities are not readable as a whole, are those the admin's rules
	// grant by name.
	names map[string]bool
	// named is how many per-object checks the namespace has left (reserve spends them).
	named int
}

// accessChecker answers "may who read this organization" for one page view. reserve is called
// from one goroutine, in name order; mayAdminister side by side, reading only.
type accessChecker struct {
	s          *Server
	who        service.Identity
	namespaces map[string]*namespaceAccess
	// unchecked counts, per namespace, organizations left out for want of per-object checks.
	unchecked map[string]int
}

// newAccessChecker asks RBAC what who may read in each namespace that holds an identity: once
// for the whole cluster (a platform admin), otherwise twice per namespace, a bounded number at a
// time.
func (s *Server) newAccessChecker(ctx context.Context, who service.Identity, identities []v1alpha1.EnterpriseIdentity) *accessChecker {
	a := &accessChecker{s: s, who: who, namespaces: map[string]*namespaceAccess{}, unchecked: map[string]int{}}
	for i := range identities {
		a.namespaces[identities[i].Namespace] = &namespaceAccess{named: namedChecksPerNamespace}
	}
	namespaces := make([]string, 0, len(a.namespaces))
	for ns := range a.namespaces {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	key := accessKey(who, namespaces)
	if cached, ok := s.access.get(key); ok { // access_cache.go
		for ns, n := range a.namespaces {
			kept := cached.namespaces[ns]
			n.identities, n.integrations, n.names = kept.identities, kept.integrations, kept.names
		}
		return a
	}
	a.ask(ctx, namespaces)
	answers := &accessAnswers{namespaces: make(map[string]namespaceAccess, len(a.namespaces))}
	for ns, n := range a.namespaces {
		answers.namespaces[ns] = *n
	}
	s.access.put(key, answers)
	return a
}

// ask asks RBAC what a.who may read in each namespace.
func (a *accessChecker) ask(ctx context.Context, namespaces []string) {
	s, who := a.s, a.who
	clusterIdentities := s.mayGet(ctx, who, "enterpriseidentities", "", "")
	clusterIntegrations := clusterIdentities && s.mayGet(ctx, who, "scimintegrations", "", "")
	if clusterIdentities && clusterIntegrations {
		for _, n := range a.namespaces {
			n.identities, n.integrations = true, true
		}
		return
	}
	eachBounded(s, len(namespaces), func(i int) {
		ns, n := namespaces[i], a.namespaces[namespaces[i]]
		n.identities = clusterIdentities || s.mayGet(ctx, who, "enterpriseidentities", ns, "")
		if n.identities {
			n.integrations = s.mayGet(ctx, who, "scimintegrations", ns, "")
		} else {
			n.names = s.namedInRules(ctx, who, ns)
		}
	}, func(int) {}) // a namespace whose checks panicked stays refused
}

// reserve says whether an organization of the namespace may be checked: always where who reads
// the namespace's identities as a whole, otherwise while its per-object checks last. The page
// reserves in name order before checking side by side, so what is left out does not depend on
// timing.
func (a *accessChecker) reserve(identity *v1alpha1.EnterpriseIdentity) bool {
	n := a.namespaces[identity.Namespace]
	if n == nil || n.identities && n.integrations {
		return true
	}
	if !n.identities && !n.names[identity.Name] {
		return false // no rule of who's in the namespace names it
	}
	if n.named > 0 {
		n.named--
		return true
	}
	a.unchecked[identity.Namespace]++
	return false
}

// mayAdminister is Server.mayAdminister with the namespace's answers: a per-object check only
// of what the namespace as a whole refuses.
func (a *accessChecker) mayAdminister(ctx context.Context, o *organization) bool {
	n := a.namespaces[o.Identity.Namespace]
	if n == nil { // not in the listing the checker was built from: ask as for one page
		return a.s.mayAdminister(ctx, a.who, o)
	}
	if !n.identities && !a.s.mayGet(ctx, a.who, "enterpriseidentities", o.Identity.Namespace, o.Identity.Name) {
		return false
	}
	return o.Scim == nil || n.integrations || a.s.mayGet(ctx, a.who, "scimintegrations", o.Scim.Namespace, o.Scim.Name)
}

// uncheckedNamespaces lists the namespaces some of whose organizations were left unchecked.
func (a *accessChecker) uncheckedNamespaces() []string {
	out := make([]string, 0, len(a.unchecked))
	for ns := range a.unchecked {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

// namedInRules lists the EnterpriseIdentities who's rules in a namespace grant get on by name:
// none when the rules cannot be listed (a failure is logged), or for a rule granting every name,
// which the namespace-wide review refused (another authorizer decided).
func (s *Server) namedInRules(ctx context.Context, who service.Identity, namespace string) map[string]bool {
	names := map[string]bool{}
	as, err := s.Impersonate(who)
	if err != nil {
		return names
	}
	review := &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: namespace}}
	if err := as.Create(ctx, review); err != nil {
		s.Log.Error("SelfSubjectRulesReview failed", "namespace", namespace, "error", err)
		return names
	}
	// An incomplete answer (an authorizer that does not enumerate) still lists RBAC's rules.
	for _, rule := range review.Status.ResourceRules {
		if matches(rule.Verbs, "get") && matches(rule.APIGroups, v1alpha1.GroupVersion.Group) && matches(rule.Resources, "enterpriseidentities") {
			for _, name := range rule.ResourceNames {
				names[name] = true
			}
		}
	}
	return names
}

// matches says whether an RBAC rule's list holds the value or the wildcard.
func matches(list []string, value string) bool {
	for _, v := range list {
		if v == value || v == "*" {
			return true
		}
	}
	return false
}
