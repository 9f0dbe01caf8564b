package controllers_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// The CRDs refuse objects that cannot work, with a message a person understands, at apply time.
var _ = Describe("CRD validation", func() {
	var ns string
	BeforeEach(func() { ns = newNamespace() })

	saml := func() *v1alpha1.SAMLSpec { return &v1alpha1.SAMLSpec{Metadata: "<md:EntityDescriptor/>"} }
	identity := func(org string) *v1alpha1.EnterpriseIdentity {
		return &v1alpha1.EnterpriseIdentity{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: uniqueName("eid")},
			Spec:       v1alpha1.EnterpriseIdentitySpec{Organization: org, SSO: v1alpha1.SSOSpec{SAML: saml()}},
		}
	}

	DescribeTable("an EnterpriseIdentity is refused",
		func(mutate func(*v1alpha1.EnterpriseIdentity), message string) {
			eid := identity("acme")
			mutate(eid)
			err := k8s.Create(ctx, eid)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("with both oidc and saml", func(e *v1alpha1.EnterpriseIdentity) {
			e.Spec.SSO.OIDC = &v1alpha1.OIDCSpec{IssuerURL: "https://idp.example", ClientID: "x"}
			e.Spec.SSO.OIDC.ClientSecretRef.Name = "s"
			e.Spec.SSO.OIDC.ClientSecretRef.Key = "k"
		}, "sso must set exactly one of oidc or saml"),
		Entry("with an OIDC client secret naming no Secret", func(e *v1alpha1.EnterpriseIdentity) {
			e.Spec.SSO.SAML = nil
			e.Spec.SSO.OIDC = &v1alpha1.OIDCSpec{IssuerURL: "https://idp.example", ClientID: "x"}
			e.Spec.SSO.OIDC.ClientSecretRef.Key = "client-secret"
		}, "clientSecretRef.name must name a Secret"),
		Entry("with an OIDC client secret that is no Secret name", func(e *v1alpha1.EnterpriseIdentity) {
			// The client refuses such a name before asking: the identity never reached its claim
			// and kept the slug from every later claimant, invisibly.
			e.Spec.SSO.SAML = nil
			e.Spec.SSO.OIDC = &v1alpha1.OIDCSpec{IssuerURL: "https://idp.example", ClientID: "x"}
			e.Spec.SSO.OIDC.ClientSecretRef.Name, e.Spec.SSO.OIDC.ClientSecretRef.Key = "a/b", "k"
		}, "clientSecretRef.name must be a Secret name"),
		Entry("with neither oidc nor saml", func(e *v1alpha1.EnterpriseIdentity) { e.Spec.SSO.SAML = nil }, "sso must set exactly one of oidc or saml"),
		Entry("with an organization that is not a DNS label", func(e *v1alpha1.EnterpriseIdentity) { e.Spec.Organization = "Acme Corp" }, "spec.organization"),
		Entry("with SAML giving both a metadata URL and inline metadata", func(e *v1alpha1.EnterpriseIdentity) {
			e.Spec.SSO.SAML.MetadataURL = "https://idp.example/metadata"
		}, "saml must set exactly one of metadataURL or metadata"),
		// Every replica caches every identity: no string of one is longer than what it holds.
		Entry("with an OIDC client secret key of 10 KiB", func(e *v1alpha1.EnterpriseIdentity) {
			e.Spec.SSO.SAML = nil
			e.Spec.SSO.OIDC = &v1alpha1.OIDCSpec{IssuerURL: "https://idp.example", ClientID: "x"}
			e.Spec.SSO.OIDC.ClientSecretRef.Name, e.Spec.SSO.OIDC.ClientSecretRef.Key = "oidc", strings.Repeat("k", 10<<10)
		}, "clientSecretRef.key must be at most 253 characters"),
		Entry("with an entity ID of 10 KiB", func(e *v1alpha1.EnterpriseIdentity) {
			e.Spec.SSO.SAML.EntityID = strings.Repeat("e", 10<<10)
		}, "spec.sso.saml.entityID: Too long"),
	)

	It("refuses a changed organization", func() {
		eid := identity(uniqueName("org"))
		Expect(k8s.Create(ctx, eid)).To(Succeed())
		err := update(eid, func(e *v1alpha1.EnterpriseIdentity) { e.Spec.Organization = uniqueName("other") })
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("organization is immutable"))
	})

	It("refuses a changed identityRef and a rotation counter going back", func() {
		scim := scimIntegration(ns, "scim", "one")
		scim.Spec.Token.Rotation = 3
		Expect(k8s.Create(ctx, scim)).To(Succeed())

		err := update(scim, func(s *v1alpha1.ScimIntegration) { s.Spec.IdentityRef.Name = "two" })
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("identityRef is immutable"))

		err = update(scim, func(s *v1alpha1.ScimIntegration) { s.Spec.Token.Rotation = 2 })
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("token.rotation can only increase"))
	})

	DescribeTable("a ScimIntegration is refused",
		func(mutate func(*v1alpha1.ScimIntegration), message string) {
			scim := scimIntegration(ns, uniqueName("scim"), "one")
			mutate(scim)
			err := k8s.Create(ctx, scim)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("with an ingress but no host", func(s *v1alpha1.ScimIntegration) { s.Spec.Endpoint.Ingress.Enabled = true },
			"endpoint.ingress.host is required"),
		Entry("with an overlap beyond 30 days", func(s *v1alpha1.ScimIntegration) {
			s.Spec.Token.Overlap = &metav1.Duration{Duration: 1000 * 3600 * 1e9}
		}, "token.overlap must be between 0s and 720h"),
		Entry("with a token Secret that is no Secret name", func(s *v1alpha1.ScimIntegration) {
			s.Spec.Token.SecretRef = &v1alpha1.TokenSecretRef{Name: "a/b"}
		}, "spec.token.secretRef.name"),
		Entry("with an IngressClass that is no object name", func(s *v1alpha1.ScimIntegration) {
			s.Spec.Endpoint.Ingress = v1alpha1.IngressSpec{Enabled: true, Host: "scim.example.com", ClassName: "Nginx"}
		}, "spec.endpoint.ingress.className"),
		Entry("with a TLS Secret that is no Secret name", func(s *v1alpha1.ScimIntegration) {
			s.Spec.Endpoint.Ingress = v1alpha1.IngressSpec{Enabled: true, Host: "scim.example.com", TLSSecretName: "tls_cert"}
		}, "spec.endpoint.ingress.tlsSecretName"),
		Entry("with an unknown deprovisioning action", func(s *v1alpha1.ScimIntegration) {
			s.Spec.Provisioning.Deprovision.OnDelete = "Erase"
		}, "Unsupported value: \"Erase\""),
		// Every replica caches every integration, and the operator keeps 32 annotations of 4 KiB in
		// all of the Ingress it writes them on.
		Entry("with 300 ingress annotations", func(s *v1alpha1.ScimIntegration) {
			s.Spec.Endpoint.Ingress.Annotations = map[string]string{}
			for i := range 300 {
				s.Spec.Endpoint.Ingress.Annotations[fmt.Sprintf("example.com/a%03d", i)] = "x"
			}
		}, "spec.endpoint.ingress.annotations: Too many: 300: must have at most 32 items"),
		Entry("with an ingress annotation of 10 KiB", func(s *v1alpha1.ScimIntegration) {
			s.Spec.Endpoint.Ingress.Annotations = map[string]string{"example.com/large": strings.Repeat("a", 10<<10)}
		}, "endpoint.ingress.annotations must be at most 4096 characters in all"),
		Entry("with ingress annotations of more than 4 KiB in all", func(s *v1alpha1.ScimIntegration) {
			s.Spec.Endpoint.Ingress.Annotations = map[string]string{}
			for i := range 32 {
				s.Spec.Endpoint.Ingress.Annotations[fmt.Sprintf("example.com/a%02d", i)] = strings.Repeat("a", 128-15+1)
			}
		}, "endpoint.ingress.annotations must be at most 4096 characters in all"),
	)

	It("accepts 32 ingress annotations of 4096 characters in all", func() {
		scim := scimIntegration(ns, uniqueName("scim"), "one")
		scim.Spec.Endpoint.Ingress.Annotations = map[string]string{}
		for i := range 32 {
			scim.Spec.Endpoint.Ingress.Annotations[fmt.Sprintf("example.com/a%02d", i)] = strings.Repeat("a", 128-15)
		}
		Expect(k8s.Create(ctx, scim)).To(Succeed())
	})

	It("fills in the documented defaults", func() {
		scim := scimIntegration(ns, "defaults", "one")
		scim.Spec.Enabled = nil
		Expect(k8s.Create(ctx, scim)).To(Succeed())
		Expect(*scim.Spec.Enabled).To(BeTrue())
		Expect(*scim.Spec.Provisioning.AutoActivate).To(BeTrue())
		Expect(scim.Spec.Provisioning.Deprovision.OnDeactivate).To(Equal(v1alpha1.DeprovisionSuspend))
		Expect(scim.Spec.Provisioning.Deprovision.OnDelete).To(Equal(v1alpha1.DeprovisionDeactivate))
		Expect(scim.Spec.Token.Overlap.Duration.String()).To(Equal("24h0m0s"))
		Expect(scim.Spec.Audit.Retention.Duration.String()).To(Equal("2160h0m0s"))
		Expect(scim.Spec.DeletionPolicy).To(Equal(v1alpha1.DeletionPolicyRetain))
	})
})
