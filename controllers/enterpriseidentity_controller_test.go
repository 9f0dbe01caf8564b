package controllers_test

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/test/localidp"
)

var _ = Describe("EnterpriseIdentity", func() {
	var (
		ns  string
		idp *localidp.Provider
	)
	BeforeEach(func() {
		ns = newNamespace()
		idp = localidp.New()
		DeferCleanup(idp.Close)
	})

	Context("with OIDC", func() {
		createClientSecret := func() {
			Expect(k8s.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "oidc"},
				Data:       map[string][]byte{"client-secret": []byte("s3cret")},
			})).To(Succeed())
		}

		It("becomes SSOReady and Ready when discovery, keys and the client secret are in place", func() {
			createClientSecret()
			eid := oidcIdentity(ns, uniqueName("org"), idp)
			Expect(k8s.Create(ctx, eid)).To(Succeed())

			eventually(condition(eid, v1alpha1.ConditionSSOReady)).Should(beTrue("Validated"))
			eventually(condition(eid, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
			Expect(eid.Status.SSO.Protocol).To(Equal("OIDC"))
			Expect(eid.Status.SSO.Issuer).To(Equal(idp.URL()))
			Expect(eid.Status.ObservedGeneration).To(Equal(eid.Generation))
			eventually(eventNotes(ns)).Should(ContainElement(ContainSubstring("SSOValidated")))
		})

		It("says the client secret is missing, then recovers when it is created", func() {
			eid := oidcIdentity(ns, uniqueName("org"), idp)
			Expect(k8s.Create(ctx, eid)).To(Succeed())
			eventually(condition(eid, v1alpha1.ConditionSSOReady)).Should(beFalse("ClientSecretMissing"))
			Expect(condition(eid, v1alpha1.ConditionSSOReady)().Message).To(ContainSubstring(`"oidc" does not exist`))
			Expect(condition(eid, v1alpha1.ConditionReady)()).To(beFalse("ClientSecretMissing"))

			createClientSecret()
			eventually(condition(eid, v1alpha1.ConditionSSOReady)).Should(beTrue("Validated"))
		})

		It("refuses an issuer whose discovery document names another issuer", func() {
			createClientSecret()
			idp.SetIssuer("https://login.elsewhere.example")
			eid := oidcIdentity(ns, uniqueName("org"), idp)
			Expect(k8s.Create(ctx, eid)).To(Succeed())
			eventually(condition(eid, v1alpha1.ConditionSSOReady)).Should(beFalse("IssuerMismatch"))
			// The message points at the document; it never repeats what a tenant's URL returned.
			message := condition(eid, v1alpha1.ConditionSSOReady)().Message
			Expect(message).To(ContainSubstring("/.well-known/openid-configuration"))
			Expect(message).NotTo(ContainSubstring("login.elsewhere.example"))
			eventually(eventNotes(ns)).Should(ContainElement(ContainSubstring("SSOValidationFailed")))
		})

		It("refuses a provider that publishes no signing keys, and retries until it does", func() {
			createClientSecret()
			idp.SetKeys(0)
			eid := oidcIdentity(ns, uniqueName("org"), idp)
			Expect(k8s.Create(ctx, eid)).To(Succeed())
			eventually(condition(eid, v1alpha1.ConditionSSOReady)).Should(beFalse("NoSigningKeys"))

			idp.SetKeys(2)
			eventually(condition(eid, v1alpha1.ConditionSSOReady)).Should(beTrue("Validated"))
		})

		It("reports an unreachable discovery document", func() {
			createClientSecret()
			idp.SetStatus(http.StatusServiceUnavailable)
			eid := oidcIdentity(ns, uniqueName("org"), idp)
			Expect(k8s.Create(ctx, eid)).To(Succeed())
			eventually(condition(eid, v1alpha1.ConditionSSOReady)).Should(beFalse("DiscoveryFailed"))
			Expect(eid.Status.ObservedGeneration).To(BeZero(), "a failed pass must not claim the generation was reconciled")
		})
	})

	Context("with SAML", func() {
		It("learns the entity ID, SSO URL and certificate expiry from metadata at a URL", func() {
			eid := samlIdentity(ns, "org", uniqueName("org"), idp)
			Expect(k8s.Create(ctx, eid)).To(Succeed())
			eventually(condition(eid, v1alpha1.ConditionSSOReady)).Should(beTrue("Validated"))
			Expect(eid.Status.SSO.IdPEntityID).To(Equal(idp.URL() + "/saml"))
			Expect(eid.Status.SSO.SSOURL).To(Equal(idp.URL() + "/saml/sso"))
			Expect(eid.Status.SSO.SigningCertificateNotAfter.Time).To(BeTemporally("~", time.Now().Add(365*24*time.Hour), time.Hour))
		})

		It("validates inline metadata without any network", func() {
			eid := samlIdentity(ns, "org", uniqueName("org"), idp)
			eid.Spec.SSO.SAML = &v1alpha1.SAMLSpec{
				EntityID: "https://idp.inline.example",
				Metadata: string(localidp.SAMLMetadata("https://idp.inline.example", "https://idp.inline.example/sso", localidp.Certificate(time.Now().Add(5*365*24*time.Hour)))),
			}
			idp.Close()
			Expect(k8s.Create(ctx, eid)).To(Succeed())
			eventually(condition(eid, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
		})

		It("refuses malformed metadata with a reason a person can act on", func() {
			idp.SetSAML([]byte("<html>login page</html"))
			eid := samlIdentity(ns, "org", uniqueName("org"), idp)
			Expect(k8s.Create(ctx, eid)).To(Succeed())
			eventually(condition(eid, v1alpha1.ConditionSSOReady)).Should(beFalse("MetadataInvalid"))
		})

		It("stays ready but warns when the signing certificate expires within 30 days", func() {
			idp.SetSAML(localidp.SAMLMetadata(idp.URL()+"/saml", idp.URL()+"/saml/sso", localidp.Certificate(time.Now().Add(10*24*time.Hour))))
			eid := samlIdentity(ns, "org", uniqueName("org"), idp)
			Expect(k8s.Create(ctx, eid)).To(Succeed())
			eventually(condition(eid, v1alpha1.ConditionSSOReady)).Should(beTrue("CertificateExpiresSoon"))
			Expect(condition(eid, v1alpha1.ConditionReady)()).To(beTrue("Ready"))
			eventually(eventNotes(ns)).Should(ContainElement(ContainSubstring("SigningCertificateExpiresSoon")))
		})

		It("refuses metadata whose signing certificate expired", func() {
			idp.SetSAML(localidp.SAMLMetadata(idp.URL()+"/saml", idp.URL()+"/saml/sso", localidp.Certificate(time.Now().Add(-time.Hour))))
			eid := samlIdentity(ns, "org", uniqueName("org"), idp)
			Expect(k8s.Create(ctx, eid)).To(Succeed())
			eventually(condition(eid, v1alpha1.ConditionSSOReady)).Should(beFalse("CertificateExpired"))
		})
	})

	Context("when two objects claim one organization", func() {
		It("gives the slug to the first; the second is told who holds it and gets it once the first is gone", func() {
			org := uniqueName("org")
			first := samlIdentity(ns, "first", org, idp)
			Expect(k8s.Create(ctx, first)).To(Succeed())
			eventually(condition(first, v1alpha1.ConditionReady)).Should(beTrue("Ready"))

			otherNS := newNamespace()
			second := samlIdentity(otherNS, "second", org, idp)
			Expect(k8s.Create(ctx, second)).To(Succeed())
			eventually(condition(second, v1alpha1.ConditionReady)).Should(beFalse("Conflict"))
			// Another tenant's namespace is not named (a cluster administrator reads the claim).
			Expect(condition(second, v1alpha1.ConditionReady)().Message).To(ContainSubstring("another namespace"))
			Expect(condition(second, v1alpha1.ConditionReady)().Message).NotTo(ContainSubstring(ns))
			Expect(condition(first, v1alpha1.ConditionReady)()).To(beTrue("Ready"))

			Expect(k8s.Delete(ctx, first)).To(Succeed())
			// The released claim stays with its namespace for a while (for a replacement there).
			eventually(condition(second, v1alpha1.ConditionReady)).Should(beFalse(v1alpha1.ReasonOrganizationRetained))
			fakeClock.Step(11 * time.Minute)
			claim := &v1alpha1.OrganizationClaim{}
			Expect(k8s.Get(ctx, types.NamespacedName{Name: org}, claim)).To(Succeed())
			poke(claim)
			eventually(condition(second, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
		})
	})
})
