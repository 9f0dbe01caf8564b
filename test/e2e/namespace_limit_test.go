package e2e

import (
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/operator"
)

// A tenant creating EnterpriseIdentities without end holds at most the installation's
// organizations per namespace: the next one is refused before its SSO is checked and says why,
// claims nothing, and claims its organization once one of the namespace's is released. Another
// namespace is not affected.
func TestANamespaceHoldsAtMostTheInstallationsOrganizations(t *testing.T) {
	sys := start(t, func(o *operator.Options) { o.MaxOrganizationsPerNamespace = 2 })
	g := patient(t)
	namespace(g, sys, "greedy")
	namespace(g, sys, "modest")
	for i := range 3 {
		g.Expect(sys.k8s.Create(sys.ctx, hostileIdentity("greedy", fmt.Sprintf("org-%d", i), fmt.Sprintf("greedy-%d", i)))).To(Succeed())
	}
	g.Expect(sys.k8s.Create(sys.ctx, hostileIdentity("modest", "org", "modest"))).To(Succeed())

	ready := func(namespace, name string) func() string {
		return func() string {
			identity := &v1alpha1.EnterpriseIdentity{}
			if err := sys.k8s.Get(sys.ctx, types.NamespacedName{Namespace: namespace, Name: name}, identity); err != nil {
				return err.Error()
			}
			c := meta.FindStatusCondition(identity.Status.Conditions, v1alpha1.ConditionReady)
			if c == nil || c.ObservedGeneration != identity.Generation {
				return "pending"
			}
			return string(c.Status) + "/" + c.Reason
		}
	}
	claimed := func(org string) func() bool {
		return func() bool {
			err := sys.k8s.Get(sys.ctx, types.NamespacedName{Name: org}, &v1alpha1.OrganizationClaim{})
			return !apierrors.IsNotFound(err)
		}
	}
	// Which two of three created together claim first is the race the limit settles; the third
	// is refused, whichever it is.
	g.Eventually(func() []string {
		var states []string
		for i := range 3 {
			states = append(states, ready("greedy", fmt.Sprintf("org-%d", i))())
		}
		return states
	}).Should(ConsistOf("True/Ready", "True/Ready", "False/"+v1alpha1.ReasonNamespaceOrganizationLimit))
	g.Eventually(ready("modest", "org")).Should(Equal("True/Ready"))
	var refused, holder string
	for i := range 3 {
		name := fmt.Sprintf("org-%d", i)
		if ready("greedy", name)() == "True/Ready" {
			holder = name
		} else {
			refused = name
		}
	}
	identity := &v1alpha1.EnterpriseIdentity{}
	g.Expect(sys.k8s.Get(sys.ctx, types.NamespacedName{Namespace: "greedy", Name: refused}, identity)).To(Succeed())
	g.Expect(identity.Status.SSO).To(BeNil(), "the refused identity's SSO was not checked")
	c := meta.FindStatusCondition(identity.Status.Conditions, v1alpha1.ConditionReady)
	g.Expect(c.Message).To(ContainSubstring("already holds 2 organizations"))
	g.Consistently(claimed(identity.Spec.Organization), "2s").Should(BeFalse(), "the refused identity claims nothing")

	// One of the namespace's identities goes: the refused one claims its organization.
	g.Expect(sys.k8s.Delete(sys.ctx, hostileIdentity("greedy", holder, ""))).To(Succeed())
	g.Eventually(ready("greedy", refused)).Should(Equal("True/Ready"))
	g.Expect(claimed(identity.Spec.Organization)()).To(BeTrue())

	// At its limit again, the namespace cannot hold another team's slug by naming it: its
	// refused identity waits for none, and the other namespace claims the slug.
	g.Expect(sys.k8s.Create(sys.ctx, hostileIdentity("greedy", "squatter", "wanted"))).To(Succeed())
	g.Eventually(ready("greedy", "squatter")).Should(Equal("False/" + v1alpha1.ReasonNamespaceOrganizationLimit))
	g.Expect(sys.k8s.Create(sys.ctx, hostileIdentity("modest", "owner", "wanted"))).To(Succeed())
	g.Eventually(ready("modest", "owner")).Should(Equal("True/Ready"))
}
