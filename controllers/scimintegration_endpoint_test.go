package controllers_test

import (
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/test/localidp"
)

var _ = Describe("ScimIntegration routing", func() {
	var ns string
	BeforeEach(func() {
		ns = newNamespace()
		idp := localidp.New()
		DeferCleanup(idp.Close)
		identity := samlIdentity(ns, "identity", uniqueName("org"), idp)
		Expect(k8s.Create(ctx, identity)).To(Succeed())
		eventually(condition(identity, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
	})

	It("keeps an ingress controller's finalizer on its Ingress through a change, and writes nothing unchanged", func() {
		// The cache holds only what the operator writes of its Ingresses (secrets.CacheOptions):
		// an update from it would remove the rest, a load balancer's finalizer among it.
		const finalizer = "example.com/load-balancer"
		scim := scimIntegration(ns, "scim", "identity")
		scim.Spec.Endpoint.Ingress = v1alpha1.IngressSpec{Enabled: true, Host: "scim.example.com"}
		Expect(k8s.Create(ctx, scim)).To(Succeed())
		ing := &networkingv1.Ingress{}
		key := types.NamespacedName{Namespace: ns, Name: "scim-scim"}
		eventually(func() error { return k8s.Get(ctx, key, ing) }).Should(Succeed())
		Expect(update(ing, func(i *networkingv1.Ingress) { i.Finalizers = append(i.Finalizers, finalizer) })).To(Succeed())
		DeferCleanup(func() {
			Expect(update(ing, func(i *networkingv1.Ingress) {
				i.Finalizers = slices.DeleteFunc(i.Finalizers, func(f string) bool { return f == finalizer })
			})).To(Succeed())
		})

		version := ing.ResourceVersion
		poke(scim)
		consistently(func() string { _ = k8s.Get(ctx, key, ing); return ing.ResourceVersion }).Should(Equal(version))

		Expect(update(scim, func(s *v1alpha1.ScimIntegration) { s.Spec.Endpoint.Ingress.Host = "identity.example.com" })).To(Succeed())
		eventually(func() string {
			if err := k8s.Get(ctx, key, ing); err != nil || len(ing.Spec.Rules) == 0 {
				return ""
			}
			return ing.Spec.Rules[0].Host
		}).Should(Equal("identity.example.com"))
		Expect(ing.Finalizers).To(ContainElement(finalizer))
	})
})
