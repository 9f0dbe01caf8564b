package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/test/localidp"
)

var _ = Describe("OrganizationClaim", func() {
	var (
		ns  string
		idp *localidp.Provider
	)
	BeforeEach(func() {
		ns = newNamespace()
		idp = localidp.New()
		DeferCleanup(idp.Close)
	})

	claimOf := func(org string) func() (*v1alpha1.OrganizationClaim, error) {
		return func() (*v1alpha1.OrganizationClaim, error) {
			claim := &v1alpha1.OrganizationClaim{}
			err := k8s.Get(ctx, types.NamespacedName{Name: org}, claim)
			return claim, err
		}
	}
	claimGone := func(org string) func() bool {
		return func() bool { _, err := claimOf(org)(); return apierrors.IsNotFound(err) }
	}
	// holding waits until the identity holds its claim, and binds data to it as a
	// ScimIntegration would on its first pass.
	holding := func(eid *v1alpha1.EnterpriseIdentity) *v1alpha1.OrganizationClaim {
		eventually(condition(eid, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
		claim, err := claimOf(eid.Spec.Organization)()
		Expect(err).NotTo(HaveOccurred())
		Expect(claim.Spec.Namespace).To(Equal(eid.Namespace))
		Expect(claim.Spec.Holder.Name).To(Equal(eid.Name))
		Expect(scimData.BindOrganization(ctx, eid.Spec.Organization, store.Binding{Claim: string(claim.UID)}, "")).To(Succeed())
		return claim
	}

	It("keeps a released organization with data in its namespace and frees it once the data is gone", func() {
		org := uniqueName("org")
		first := samlIdentity(ns, "first", org, idp)
		Expect(k8s.Create(ctx, first)).To(Succeed())
		claim := holding(first)

		otherNS := newNamespace()
		second := samlIdentity(otherNS, "second", org, idp)
		Expect(k8s.Create(ctx, second)).To(Succeed())
		eventually(condition(second, v1alpha1.ConditionReady)).Should(beFalse(v1alpha1.ReasonConflict))

		Expect(k8s.Delete(ctx, first)).To(Succeed())
		eventually(condition(second, v1alpha1.ConditionReady)).Should(beFalse(v1alpha1.ReasonOrganizationRetained))
		Expect(condition(second, v1alpha1.ConditionReady)().Message).To(ContainSubstring("released by another namespace"))
		released, err := claimOf(org)()
		Expect(err).NotTo(HaveOccurred())
		Expect(released.Spec.Holder).To(BeNil())
		Expect(released.Spec.Namespace).To(Equal(ns))

		By("the namespace deletes the data; the claim is freed and the slug goes to the waiting claimant")
		Expect(scimData.DeleteOrganization(ctx, org, store.Binding{Claim: string(claim.UID)})).To(Succeed())
		fakeClock.Step(11 * time.Minute) // past the release's grace for the namespace
		poke(released)
		eventually(condition(second, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
		held, err := claimOf(org)()
		Expect(err).NotTo(HaveOccurred())
		Expect(held.Spec.Namespace).To(Equal(otherNS))
		Expect(held.UID).NotTo(Equal(claim.UID))
	})

	It("frees a released organization once its integration deletes the data, woken by the mark on the claim", func() {
		org := uniqueName("org")
		first := samlIdentity(ns, "first", org, idp)
		Expect(k8s.Create(ctx, first)).To(Succeed())
		eventually(condition(first, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
		scim := scimIntegration(ns, "scim", "first")
		scim.Spec.DeletionPolicy = v1alpha1.DeletionPolicyDelete
		Expect(k8s.Create(ctx, scim)).To(Succeed())
		eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))

		otherNS := newNamespace()
		second := samlIdentity(otherNS, "second", org, idp)
		Expect(k8s.Create(ctx, second)).To(Succeed())
		eventually(condition(second, v1alpha1.ConditionReady)).Should(beFalse(v1alpha1.ReasonConflict))
		Expect(k8s.Delete(ctx, first)).To(Succeed())
		eventually(condition(second, v1alpha1.ConditionReady)).Should(beFalse(v1alpha1.ReasonOrganizationRetained))
		fakeClock.Step(11 * time.Minute) // past the release's grace for the namespace

		By("the integration's finalizer deletes the data and marks the claim: nothing else wakes the claim")
		Expect(k8s.Delete(ctx, scim)).To(Succeed())
		eventually(condition(second, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
		Expect(scimData.deleted()).To(ContainElement(org))
	})

	It("deletes a deleted claim's data only once nobody holds it", func() {
		org := uniqueName("org")
		eid := samlIdentity(ns, "org", org, idp)
		Expect(k8s.Create(ctx, eid)).To(Succeed())
		claim := holding(eid)

		Expect(k8s.Delete(ctx, claim)).To(Succeed())
		consistently(claimGone(org)).Should(BeFalse())
		Expect(scimData.deleted()).NotTo(ContainElement(org))

		Expect(k8s.Delete(ctx, eid)).To(Succeed())
		eventually(claimGone(org)).Should(BeTrue())
		Expect(scimData.deleted()).To(ContainElement(org))
	})

	It("keeps a replaced identity's slug with its namespace for a while, not with another's waiting identity", func() {
		// No data yet (SSO only, or an integration not bound yet): freed at the release, the slug
		// went to the oldest claimant anywhere, here another tenant's, waiting with a Conflict,
		// before the namespace's replacement (a GitOps prune and create, a rename) could take it.
		org := uniqueName("org")
		first := samlIdentity(ns, "first", org, idp)
		Expect(k8s.Create(ctx, first)).To(Succeed())
		eventually(condition(first, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
		squatter := samlIdentity(newNamespace(), "squatter", org, idp)
		Expect(k8s.Create(ctx, squatter)).To(Succeed())
		eventually(condition(squatter, v1alpha1.ConditionReady)).Should(beFalse(v1alpha1.ReasonConflict))

		Expect(k8s.Delete(ctx, first)).To(Succeed())
		eventually(func() bool { c, err := claimOf(org)(); return err == nil && c.Spec.Holder == nil }).Should(BeTrue())
		eventually(condition(squatter, v1alpha1.ConditionReady)).Should(beFalse(v1alpha1.ReasonOrganizationRetained))
		consistently(claimGone(org)).Should(BeFalse())
		replacement := samlIdentity(ns, "replacement", org, idp)
		Expect(k8s.Create(ctx, replacement)).To(Succeed())
		eventually(condition(replacement, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
		taken, err := claimOf(org)()
		Expect(err).NotTo(HaveOccurred())
		Expect([]string{taken.Spec.Namespace, taken.Spec.Holder.Name}).To(Equal([]string{ns, "replacement"}))
		Expect(condition(squatter, v1alpha1.ConditionReady)()).NotTo(beTrue("Ready"))

		By("once the namespace releases it and names it no more, it is freed after the grace")
		Expect(k8s.Delete(ctx, replacement)).To(Succeed())
		eventually(func() bool { c, err := claimOf(org)(); return err == nil && c.Spec.Holder == nil }).Should(BeTrue())
		consistently(condition(squatter, v1alpha1.ConditionReady)).ShouldNot(beTrue("Ready"))
		fakeClock.Step(11 * time.Minute)
		released, err := claimOf(org)()
		Expect(err).NotTo(HaveOccurred())
		poke(released)
		eventually(condition(squatter, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
	})

	It("hands a released organization to a new identity of the same namespace", func() {
		org := uniqueName("org")
		first := samlIdentity(ns, "first", org, idp)
		Expect(k8s.Create(ctx, first)).To(Succeed())
		claim := holding(first)
		Expect(k8s.Delete(ctx, first)).To(Succeed())
		eventually(func() bool { c, err := claimOf(org)(); return err == nil && c.Spec.Holder == nil }).Should(BeTrue())

		replacement := samlIdentity(ns, "replacement", org, idp)
		Expect(k8s.Create(ctx, replacement)).To(Succeed())
		eventually(condition(replacement, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
		taken, err := claimOf(org)()
		Expect(err).NotTo(HaveOccurred())
		Expect(taken.UID).To(Equal(claim.UID), "the same claim, so the same data")
		Expect(taken.Spec.Holder.Name).To(Equal("replacement"))
	})
})
