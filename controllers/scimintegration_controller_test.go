package controllers_test

import (
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
	"github.com/z8z8/enterprise-identity-operator/test/localidp"
)

var _ = Describe("ScimIntegration", func() {
	var (
		ns, org  string
		idp      *localidp.Provider
		identity *v1alpha1.EnterpriseIdentity
	)
	BeforeEach(func() {
		ns = newNamespace()
		org = uniqueName("org")
		idp = localidp.New()
		DeferCleanup(idp.Close)
		identity = samlIdentity(ns, "identity", org, idp)
	})

	// readyIdentity creates the EnterpriseIdentity and waits until SSO is validated.
	readyIdentity := func() {
		Expect(k8s.Create(ctx, identity)).To(Succeed())
		eventually(condition(identity, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
	}
	tokenSecret := func(scim *v1alpha1.ScimIntegration) func() map[string][]byte {
		return secretData(ns, v1alpha1.TokenSecretName(scim.Name))
	}

	Context("before SSO is configured", func() {
		It("waits, issuing nothing, and proceeds once SSO validates", func() {
			idp.SetSAML([]byte("not metadata"))
			Expect(k8s.Create(ctx, identity)).To(Succeed())
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())

			eventually(condition(scim, v1alpha1.ConditionSSOReady)).Should(beFalse("WaitingForSSO"))
			// The identity's own verdict on its metadata arrives a pass after it claims the organization.
			eventually(func() string { return condition(scim, v1alpha1.ConditionReady)().Message }).Should(ContainSubstring("SAML metadata"))
			consistently(tokenSecret(scim)).Should(BeNil())

			idp.SetSAML(localidp.SAMLMetadata(idp.URL()+"/saml", idp.URL()+"/sso", localidp.Certificate(time.Now().Add(90*24*time.Hour))))
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
		})

		It("says so when the referenced EnterpriseIdentity does not exist", func() {
			scim := scimIntegration(ns, "scim", "missing")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionReady)).Should(beFalse("IdentityNotFound"))
		})
	})

	Context("with SSO ready", func() {
		BeforeEach(readyIdentity)

		It("issues a token Secret whose hash matches the plaintext, and a base URL", func() {
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))

			data := tokenSecret(scim)()
			plaintext := string(data["token"])
			Expect(plaintext).To(HavePrefix(token.Prefix))
			Expect(string(data["sha256"])).To(Equal(token.Hash(plaintext)))
			Expect(scim.Status.BaseURL).To(Equal("http://127.0.0.1:8080/scim/v2/" + org))
			Expect(scim.Status.Organization).To(Equal(org))
			Expect(scim.Status.Token.Fingerprint).To(Equal(token.Fingerprint(token.Hash(plaintext))))
			Expect(scim.Status.Token.Retrievable).To(BeTrue())
			Expect(scim.Status.Token.IssuedAt).NotTo(BeNil())

			secret := &corev1.Secret{}
			Expect(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: scim.Status.Token.SecretName}, secret)).To(Succeed())
			Expect(metav1.IsControlledBy(secret, scim)).To(BeTrue())

			By("never showing the token in status or events")
			status, err := json.Marshal(scim.Status)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(status)).NotTo(ContainSubstring(plaintext))
			eventually(eventNotes(ns)).Should(ContainElement(ContainSubstring("TokenIssued")))
			Expect(strings.Join(eventNotes(ns)(), "\n")).NotTo(ContainSubstring(plaintext))
		})

		It("keeps the token on ordinary spec edits and moves observedGeneration", func() {
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
			before := tokenSecret(scim)()

			Expect(update(scim, func(s *v1alpha1.ScimIntegration) {
				s.Spec.Provisioning.AutoActivate = ptr.To(false)
				s.Spec.Provisioning.Deprovision.OnDeactivate = v1alpha1.DeprovisionDeactivate
			})).To(Succeed())
			generation := scim.Generation
			eventually(func() int64 {
				_ = k8s.Get(ctx, client.ObjectKeyFromObject(scim), scim)
				return scim.Status.ObservedGeneration
			}).Should(Equal(generation))
			Expect(tokenSecret(scim)()).To(Equal(before))
		})

		It("removes the plaintext once acknowledged and keeps the hash", func() {
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
			hash := tokenSecret(scim)()["sha256"]

			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: v1alpha1.TokenSecretName(scim.Name)}}
			Expect(update(secret, func(s *corev1.Secret) { s.Annotations[v1alpha1.AnnotationTokenAcknowledged] = "true" })).To(Succeed())

			eventually(tokenSecret(scim)).ShouldNot(HaveKey("token"))
			Expect(tokenSecret(scim)()["sha256"]).To(Equal(hash))
			eventually(func() bool {
				_ = k8s.Get(ctx, client.ObjectKeyFromObject(scim), scim)
				return scim.Status.Token.Retrievable
			}).Should(BeFalse())
		})

		It("rotates declaratively: both hashes are valid during the overlap, then only the new one", func() {
			scim := scimIntegration(ns, "scim", "identity")
			scim.Spec.Token.Overlap = &metav1.Duration{Duration: time.Hour}
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
			oldHash := string(tokenSecret(scim)()["sha256"])
			// The store records the tokens the integration accepts: replicas whose view of
			// Kubernetes lags refuse those it does not list (tenant.BindingCheck).
			org := scim.Status.Organization
			Expect(org).NotTo(BeEmpty())
			eventually(scimData.recordedTokens(org)).Should(ConsistOf(token.Fingerprint(oldHash)))

			Expect(update(scim, func(s *v1alpha1.ScimIntegration) { s.Spec.Token.Rotation = 1 })).To(Succeed())
			eventually(func() string { return string(tokenSecret(scim)()["previous-sha256"]) }).Should(Equal(oldHash))
			data := tokenSecret(scim)()
			Expect(string(data["sha256"])).NotTo(Equal(oldHash))
			Expect(string(data["sha256"])).To(Equal(token.Hash(string(data["token"]))))
			eventually(func() *metav1.Time {
				_ = k8s.Get(ctx, client.ObjectKeyFromObject(scim), scim)
				return scim.Status.Token.PreviousValidUntil
			}).ShouldNot(BeNil())
			Expect(scim.Status.Token.Rotation).To(Equal(int64(1)))
			eventually(eventNotes(ns)).Should(ContainElement(ContainSubstring("TokenRotated")))
			eventually(scimData.recordedTokens(org)).Should(ConsistOf(token.Fingerprint(oldHash), token.Fingerprint(string(data["sha256"]))))

			By("dropping the previous hash when the overlap ends")
			fakeClock.Step(2 * time.Hour)
			poke(scim)
			eventually(tokenSecret(scim)).ShouldNot(HaveKey("previous-sha256"))
			Expect(tokenSecret(scim)()["sha256"]).To(Equal(data["sha256"]))
			eventually(scimData.recordedTokens(org)).Should(ConsistOf(token.Fingerprint(string(data["sha256"]))))
		})

		It("answers a long rotate-token request once, not at every reconcile", func() {
			// Kept whole, a request longer than status.token.rotationRequest's 64 characters failed
			// the status write, and past its bound the Secret cache dropped it: never answered, so every
			// reconcile rotated again, each rotation's Secret write waking the next.
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
			for _, request := range []string{strings.Repeat("r", 1100), strings.Repeat("s", 100)} {
				before := string(tokenSecret(scim)()["sha256"])
				Expect(update(scim, func(s *v1alpha1.ScimIntegration) {
					s.Annotations = map[string]string{v1alpha1.AnnotationRotateToken: request}
				})).To(Succeed())
				eventually(func() string {
					_ = k8s.Get(ctx, client.ObjectKeyFromObject(scim), scim)
					if scim.Status.Token == nil {
						return ""
					}
					return scim.Status.Token.RotationRequest
				}).Should(Equal(token.RotationRequestMark(request)))
				rotated := string(tokenSecret(scim)()["sha256"])
				Expect(rotated).NotTo(Equal(before))
				consistently(func() string { return string(tokenSecret(scim)()["sha256"]) }).Should(Equal(rotated))
			}
		})

		It("keeps what a user put on the token Secret through a rotation", func() {
			// The cache holds only the operator's fields of a token Secret (secrets.CacheOptions):
			// an update from it would remove the rest.
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
			secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: v1alpha1.TokenSecretName(scim.Name)}}
			Expect(update(secret, func(s *corev1.Secret) {
				s.Annotations["reflector.v1.k8s.emberstack.com/reflection-allowed"] = "true"
				s.Labels["team"] = "identity"
				s.Data["note"] = []byte("kept")
			})).To(Succeed())

			Expect(update(scim, func(s *v1alpha1.ScimIntegration) { s.Spec.Token.Rotation = 1 })).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
			eventually(func() int64 {
				_ = k8s.Get(ctx, client.ObjectKeyFromObject(scim), scim)
				return scim.Status.Token.Rotation
			}).Should(Equal(int64(1)))
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(secret), secret)).To(Succeed())
			Expect(secret.Annotations).To(HaveKeyWithValue("reflector.v1.k8s.emberstack.com/reflection-allowed", "true"))
			Expect(secret.Labels).To(HaveKeyWithValue("team", "identity"))
			Expect(secret.Data).To(HaveKeyWithValue("note", []byte("kept")))
		})

		It("keeps other controllers' finalizers and a user's metadata through its own finalizers' life", func() {
			// The cache keeps of an integration or an identity only the operator's finalizers and
			// annotation (secrets.CacheOptions): a finalizer list written from it would remove the
			// others', and another controller's cleanup would never run.
			foreign := "backup.example.com/snapshot"
			scim := scimIntegration(ns, "scim", "identity")
			scim.Finalizers = []string{foreign}
			scim.Labels = map[string]string{"team": "identity"}
			scim.Annotations = map[string]string{"argocd.argoproj.io/tracking-id": "identity:enterprise.z8z8.io/ScimIntegration:scim"}
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
			Expect(scim.Finalizers).To(ConsistOf(foreign, v1alpha1.FinalizerSCIMData))
			Expect(scim.Labels).To(HaveKeyWithValue("team", "identity"))
			Expect(scim.Annotations).To(HaveKey("argocd.argoproj.io/tracking-id"))

			Expect(k8s.Delete(ctx, scim)).To(Succeed())
			eventually(func() []string {
				_ = k8s.Get(ctx, client.ObjectKeyFromObject(scim), scim)
				return scim.Finalizers
			}).Should(Equal([]string{foreign}))

			Expect(update(identity, func(e *v1alpha1.EnterpriseIdentity) { e.Finalizers = append(e.Finalizers, foreign) })).To(Succeed())
			Expect(k8s.Delete(ctx, identity)).To(Succeed())
			eventually(func() []string {
				_ = k8s.Get(ctx, client.ObjectKeyFromObject(identity), identity)
				return identity.Finalizers
			}).Should(Equal([]string{foreign}))

			for _, obj := range []client.Object{scim, identity} {
				Expect(update(obj, func(o client.Object) { o.SetFinalizers(nil) })).To(Succeed())
				eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)) }).Should(BeTrue())
			}
		})

		It("reports an expired token and issues a fresh one on rotation", func() {
			scim := scimIntegration(ns, "scim", "identity")
			scim.Spec.Token.ExpiresAfter = &metav1.Duration{Duration: 2 * time.Hour}
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
			Expect(scim.Status.Token.ExpiresAt).NotTo(BeNil())

			fakeClock.Step(3 * time.Hour)
			poke(scim)
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beFalse("TokenExpired"))
			Expect(condition(scim, v1alpha1.ConditionReady)()).To(beFalse("TokenExpired"))

			Expect(update(scim, func(s *v1alpha1.ScimIntegration) { s.Spec.Token.Rotation = 1 })).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
		})

		It("uses a bring-your-own Secret, never changing it, and removes the token it generated before", func() {
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(tokenSecret(scim)).ShouldNot(BeNil())

			Expect(update(scim, func(s *v1alpha1.ScimIntegration) {
				s.Spec.Token.SecretRef = &v1alpha1.TokenSecretRef{Name: "my-token", Key: "value"}
			})).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beFalse("SecretNotFound"))

			own := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "my-token"},
				Data:       map[string][]byte{"value": []byte("short")},
			}
			Expect(k8s.Create(ctx, own)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beFalse("TokenInvalid"))

			Expect(update(own, func(s *corev1.Secret) { s.Data["value"] = []byte("a-token-from-our-vault-0123456789abcdef") })).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("BringYourOwnToken"))
			Expect(scim.Status.Token.Fingerprint).To(Equal(token.Fingerprint(token.Hash("a-token-from-our-vault-0123456789abcdef"))))
			eventually(tokenSecret(scim)).Should(BeNil())
			eventually(scimData.recordedTokens(scim.Status.Organization)).Should(ConsistOf(scim.Status.Token.Fingerprint))

			By("replacing the token in the Secret, as after a leak")
			Expect(update(own, func(s *corev1.Secret) { s.Data["value"] = []byte("a-second-token-from-our-vault-0123456789") })).To(Succeed())
			eventually(scimData.recordedTokens(scim.Status.Organization)).Should(ConsistOf(token.Fingerprint(token.Hash("a-second-token-from-our-vault-0123456789"))))

			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(own), own)).To(Succeed())
			Expect(own.OwnerReferences).To(BeEmpty())
			Expect(own.Data).To(HaveLen(1))

			By("deleting the Secret: no token is accepted, and the store says so")
			org := scim.Status.Organization
			Expect(k8s.Delete(ctx, own)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beFalse("SecretNotFound"))
			eventually(scimData.recordedTokens(org)).Should(Equal([]string{}))
		})

		It("says when the default RoleTemplate does not exist, and clears it once created", func() {
			scim := scimIntegration(ns, "scim", "identity")
			scim.Spec.Provisioning.DefaultRoleTemplate = "engineer"
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionPolicyReady)).Should(beFalse("RoleTemplateNotFound"))
			Expect(condition(scim, v1alpha1.ConditionPolicyReady)().Message).To(ContainSubstring(`"engineer"`))

			Expect(k8s.Create(ctx, &v1alpha1.RoleTemplate{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "engineer"},
				Spec:       v1alpha1.RoleTemplateSpec{DisplayName: "Engineer", Permissions: []string{"projects:write"}},
			})).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionPolicyReady)).Should(beTrue("Valid"))

			By("a group role mapping naming a missing RoleTemplate")
			Expect(update(scim, func(s *v1alpha1.ScimIntegration) {
				s.Spec.Provisioning.GroupRoles = []v1alpha1.GroupRoleMapping{{Group: "Admins", RoleTemplate: "admin"}}
			})).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionPolicyReady)).Should(beFalse("RoleTemplateNotFound"))
			Expect(condition(scim, v1alpha1.ConditionPolicyReady)().Message).To(ContainSubstring("groupRoles[0]"))
		})

		It("says when spec.rateLimit asks more than the installation allows, and clears it once within", func() {
			scim := scimIntegration(ns, "scim", "identity")
			scim.Spec.RateLimit = v1alpha1.RateLimitSpec{RequestsPerSecond: ptr.To[int32](100000), Burst: ptr.To[int32](100000)}
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionRateLimitCapped)).Should(beTrue("AboveInstallationMaximum"))
			Expect(condition(scim, v1alpha1.ConditionRateLimitCapped)().Message).To(And(ContainSubstring("asks 100000 requests per second"),
				ContainSubstring("served at 1000 requests per second with a burst of 2000")))

			Expect(update(scim, func(s *v1alpha1.ScimIntegration) { s.Spec.RateLimit = v1alpha1.RateLimitSpec{} })).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionRateLimitCapped)).Should(BeNil())
		})

		It("reports deprovisionings held by the guard, with a warning, until they are released", func() {
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionDeprovisioningHeld)).Should(beFalse("NotHeld"))
			scimData.setHeld(org, 3)
			poke(scim)
			eventually(condition(scim, v1alpha1.ConditionDeprovisioningHeld)).Should(beTrue("Held"))
			Expect(condition(scim, v1alpha1.ConditionDeprovisioningHeld)().Message).To(ContainSubstring("3 deprovisionings are held"))
			eventually(eventNotes(ns)).Should(ContainElement(ContainSubstring("DeprovisioningHeld")))
			scimData.setHeld(org, 0)
			poke(scim)
			eventually(condition(scim, v1alpha1.ConditionDeprovisioningHeld)).Should(beFalse("NotHeld"))
		})

		It("reports a burst of failed requests with a warning", func() {
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionErrorBurst)).Should(beFalse("Normal"))
			scimData.setFailures(org, 20)
			poke(scim)
			eventually(condition(scim, v1alpha1.ConditionErrorBurst)).Should(beTrue("ManyErrors"))
			Expect(condition(scim, v1alpha1.ConditionErrorBurst)().Message).To(ContainSubstring("401"))
			eventually(eventNotes(ns)).Should(ContainElement(ContainSubstring("ScimErrorBurst")))
		})

		It("never adopts a Secret of the same name that it does not own", func() {
			foreign := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: v1alpha1.TokenSecretName("scim")},
				Data:       map[string][]byte{"token": []byte("somebody else's")},
			}
			Expect(k8s.Create(ctx, foreign)).To(Succeed())
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beFalse("SecretNotOwned"))
			consistently(tokenSecret(scim)).Should(Equal(map[string][]byte{"token": []byte("somebody else's")}))
		})

		It("says why when the namespace's quota refuses its token Secret", func() {
			// The refusal (403) was in the logs only: Ready said TokenIssued had not been
			// evaluated yet, which the wizard waits out for ever.
			quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-secrets"},
				Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceSecrets: resource.MustParse("0")}}}
			Expect(k8s.Create(ctx, quota)).To(Succeed())
			// No quota controller runs beside envtest's API server: its status is set as one would.
			quota.Status = corev1.ResourceQuotaStatus{Hard: quota.Spec.Hard, Used: corev1.ResourceList{corev1.ResourceSecrets: resource.MustParse("0")}}
			Expect(k8s.Status().Update(ctx, quota)).To(Succeed())
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beFalse(v1alpha1.ReasonSecretRefused))
			Expect(condition(scim, v1alpha1.ConditionTokenIssued)().Message).To(ContainSubstring("exceeded quota"))
			Expect(condition(scim, v1alpha1.ConditionReady)()).NotTo(beTrue("Ready"))
		})

		It("lets only the first ScimIntegration provision an organization", func() {
			first := scimIntegration(ns, "first", "identity")
			Expect(k8s.Create(ctx, first)).To(Succeed())
			eventually(condition(first, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
			second := scimIntegration(ns, "second", "identity")
			Expect(k8s.Create(ctx, second)).To(Succeed())
			eventually(condition(second, v1alpha1.ConditionReady)).Should(beFalse("Conflict"))
			consistently(tokenSecret(second)).Should(BeNil())
		})

		It("waits while the organization's earlier data is being deleted, then binds it", func() {
			scimData.setBeingDeleted(org, true)
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionSSOReady)).Should(beFalse(v1alpha1.ReasonOrganizationDataBeingDeleted))
			consistently(tokenSecret(scim)).Should(BeNil())
			scimData.setBeingDeleted(org, false)
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
		})

		It("does not go on saying the endpoint serves once its identity is gone", func() {
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			dataPlane.set(org, true)
			poke(scim)
			eventually(condition(scim, v1alpha1.ConditionEndpointReady)).Should(beTrue("Serving"))
			Expect(k8s.Delete(ctx, identity)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionEndpointReady)).Should(beFalse(v1alpha1.ReasonNotChecked))
		})

		It("becomes Ready when the data plane serves the organization, and reports a disabled one", func() {
			scim := scimIntegration(ns, "scim", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionEndpointReady)).Should(beFalse("DataPlaneNotServing"))

			dataPlane.set(org, true)
			poke(scim)
			eventually(condition(scim, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
			eventually(eventNotes(ns)).Should(ContainElement(ContainSubstring("EndpointReady")))

			eventually(scimData.recordedTokens(org)).Should(HaveLen(1))
			Expect(scimData.recordedDisabled(org)()).To(BeFalse())

			Expect(update(scim, func(s *v1alpha1.ScimIntegration) { s.Spec.Enabled = ptr.To(false) })).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionReady)).Should(beFalse("Disabled"))
			// Recorded in the store, so replicas whose view lags answer as switched off too.
			eventually(scimData.recordedDisabled(org)).Should(BeTrue())
			Expect(update(scim, func(s *v1alpha1.ScimIntegration) { s.Spec.Enabled = ptr.To(true) })).To(Succeed())
			eventually(scimData.recordedDisabled(org)).Should(BeFalse())
		})

		It("says why when the API server refuses what its ingress needs", func() {
			// A name with a dot makes no Service name: the reason was in the logs only, retried
			// with backoff, and an EndpointReady=True from before stayed.
			scim := scimIntegration(ns, "acme.prod", "identity")
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
			Expect(update(scim, func(s *v1alpha1.ScimIntegration) {
				s.Spec.Endpoint.Ingress = v1alpha1.IngressSpec{Enabled: true, Host: "scim.example.com"}
			})).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionEndpointReady)).Should(beFalse(v1alpha1.ReasonRoutingInvalid))
			Expect(condition(scim, v1alpha1.ConditionEndpointReady)().Message).To(ContainSubstring("Service acme.prod-scim"))
			Expect(condition(scim, v1alpha1.ConditionReady)()).NotTo(beTrue("Ready"))
		})

		It("says why when the namespace's quota forbids what its ingress needs", func() {
			quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "no-services"},
				Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceServices: resource.MustParse("0")}}}
			Expect(k8s.Create(ctx, quota)).To(Succeed())
			// No quota controller runs beside envtest's API server: its status is set as one would.
			quota.Status = corev1.ResourceQuotaStatus{Hard: quota.Spec.Hard, Used: corev1.ResourceList{corev1.ResourceServices: resource.MustParse("0")}}
			Expect(k8s.Status().Update(ctx, quota)).To(Succeed())
			scim := scimIntegration(ns, "scim", "identity")
			scim.Spec.Endpoint.Ingress = v1alpha1.IngressSpec{Enabled: true, Host: "scim.example.com"}
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionEndpointReady)).Should(beFalse(v1alpha1.ReasonRoutingInvalid))
			Expect(condition(scim, v1alpha1.ConditionEndpointReady)().Message).To(ContainSubstring("exceeded quota"))
		})

		It("leaves alone an Ingress of the same name that is not its own", func() {
			// The cache holds only the operator's Ingresses (secrets.CacheOptions): this one is
			// found by the create it refuses.
			pathType := networkingv1.PathTypePrefix
			foreign := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "scim-scim"},
				Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "other.example.com",
					IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
						Path: "/", PathType: &pathType, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
							Name: "other", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}}}
			Expect(k8s.Create(ctx, foreign)).To(Succeed())
			scim := scimIntegration(ns, "scim", "identity")
			scim.Spec.Endpoint.Ingress = v1alpha1.IngressSpec{Enabled: true, Host: "scim.example.com"}
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionEndpointReady)).Should(beFalse(v1alpha1.ReasonIngressNotOwned))
			got := &networkingv1.Ingress{}
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(foreign), got)).To(Succeed())
			Expect(got.Spec.Rules[0].Host).To(Equal("other.example.com"))
			Expect(got.OwnerReferences).To(BeEmpty())
		})

		It("keeps the IngressClass the API server assigned to an Ingress without a className", func() {
			scim := scimIntegration(ns, "scim", "identity")
			scim.Spec.Endpoint.Ingress = v1alpha1.IngressSpec{Enabled: true, Host: "scim.example.com"}
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			ing := &networkingv1.Ingress{}
			key := types.NamespacedName{Namespace: ns, Name: "scim-scim"}
			eventually(func() error { return k8s.Get(ctx, key, ing) }).Should(Succeed())
			// What the DefaultIngressClass admission does on create where the cluster has a default.
			if ing.Spec.IngressClassName == nil {
				ing.Spec.IngressClassName = ptr.To("cluster-default")
				Expect(k8s.Update(ctx, ing)).To(Succeed())
			}
			assigned := *ing.Spec.IngressClassName
			poke(scim)
			consistently(func() string {
				got := &networkingv1.Ingress{}
				if err := k8s.Get(ctx, key, got); err != nil || got.Spec.IngressClassName == nil {
					return ""
				}
				return *got.Spec.IngressClassName
			}).Should(Equal(assigned))
		})

		It("creates an Ingress for the organization's path when asked, and removes it when not", func() {
			scim := scimIntegration(ns, "scim", "identity")
			scim.Spec.Endpoint.Ingress = v1alpha1.IngressSpec{
				Enabled: true, ClassName: "nginx", Host: "scim.example.com", TLSSecretName: "scim-tls",
				Annotations: map[string]string{"nginx.ingress.kubernetes.io/limit-rps": "20"},
			}
			Expect(k8s.Create(ctx, scim)).To(Succeed())

			ing := &networkingv1.Ingress{}
			key := types.NamespacedName{Namespace: ns, Name: "scim-scim"}
			eventually(func() error { return k8s.Get(ctx, key, ing) }).Should(Succeed())
			Expect(*ing.Spec.IngressClassName).To(Equal("nginx"))
			Expect(ing.Annotations).To(HaveKeyWithValue("nginx.ingress.kubernetes.io/limit-rps", "20"))
			Expect(ing.Spec.TLS[0].SecretName).To(Equal("scim-tls"))
			rule := ing.Spec.Rules[0]
			Expect(rule.Host).To(Equal("scim.example.com"))
			Expect(rule.HTTP.Paths[0].Path).To(Equal("/scim/v2/" + org))
			Expect(rule.HTTP.Paths[0].Backend.Service.Name).To(Equal("scim-scim"))

			svc := &corev1.Service{}
			Expect(k8s.Get(ctx, key, svc)).To(Succeed())
			Expect(svc.Spec.Type).To(Equal(corev1.ServiceTypeExternalName))
			Expect(svc.Spec.ExternalName).To(Equal("eio.operators.svc.cluster.local"))
			eventually(func() string { _ = k8s.Get(ctx, client.ObjectKeyFromObject(scim), scim); return scim.Status.BaseURL }).
				Should(Equal("https://scim.example.com/scim/v2/" + org))

			Expect(update(scim, func(s *v1alpha1.ScimIntegration) { s.Spec.Endpoint.Ingress.Enabled = false })).To(Succeed())
			eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, key, &networkingv1.Ingress{})) }).Should(BeTrue())
			eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, key, &corev1.Service{})) }).Should(BeTrue())
			eventually(func() string { _ = k8s.Get(ctx, client.ObjectKeyFromObject(scim), scim); return scim.Status.BaseURL }).
				Should(Equal("http://127.0.0.1:8080/scim/v2/" + org))
		})

		DescribeTable("deletion follows deletionPolicy",
			func(policy v1alpha1.DeletionPolicy, deletesData bool) {
				scim := scimIntegration(ns, "scim", "identity")
				scim.Spec.DeletionPolicy = policy
				Expect(k8s.Create(ctx, scim)).To(Succeed())
				eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
				Expect(scim.Finalizers).To(ContainElement("enterprise.z8z8.io/scim-data"))
				bound, err := scimData.OrganizationBinding(ctx, org)
				Expect(err).NotTo(HaveOccurred())
				Expect(bound.Integration).To(Equal(string(scim.UID)), "the data is bound to the integration serving it")

				Expect(k8s.Delete(ctx, scim)).To(Succeed())
				eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(scim), scim)) }).Should(BeTrue())
				if deletesData {
					Expect(scimData.deleted()).To(ContainElement(org))
				} else {
					Expect(scimData.deleted()).NotTo(ContainElement(org))
				}
				// Recorded first, whatever the policy (data kept stays bound until the next
				// integration binds it): the deleted integration serves nothing, for replicas
				// whose view lags.
				Expect(scimData.recordedTokens(org)()).To(Equal([]string{}))
				Expect(scimData.recordedDisabled(org)()).To(BeTrue())

				By("binding the identity's next integration under the same claim: the deleted one's writes are refused from then on")
				next := scimIntegration(ns, "scim-next", "identity")
				Expect(k8s.Create(ctx, next)).To(Succeed())
				eventually(condition(next, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
				rebound, err := scimData.OrganizationBinding(ctx, org)
				Expect(err).NotTo(HaveOccurred())
				Expect(rebound).To(Equal(store.Binding{Claim: bound.Claim, Integration: string(next.UID)}))
			},
			Entry("Retain keeps the organization's SCIM data", v1alpha1.DeletionPolicyRetain, false),
			Entry("Delete removes the organization's SCIM data", v1alpha1.DeletionPolicyDelete, true),
		)

		// firstAndSibling creates an integration with deletionPolicy Delete that provisions the
		// organization, then a sibling of the same identity (siblingPolicy) waiting in conflict.
		firstAndSibling := func(siblingPolicy v1alpha1.DeletionPolicy) (first, sibling *v1alpha1.ScimIntegration) {
			first = scimIntegration(ns, "scim", "identity")
			first.Spec.DeletionPolicy = v1alpha1.DeletionPolicyDelete
			Expect(k8s.Create(ctx, first)).To(Succeed())
			eventually(condition(first, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
			sibling = scimIntegration(ns, "scim-sibling", "identity")
			sibling.Spec.DeletionPolicy = siblingPolicy
			Expect(k8s.Create(ctx, sibling)).To(Succeed())
			eventually(condition(sibling, v1alpha1.ConditionSSOReady)).Should(beFalse("Conflict"))
			return first, sibling
		}

		It("frees the slug once an identity and its integration that deletes data go together", func() {
			// As when their namespace is deleted: the integration's finalizer may read the claim
			// still held, and marked only a released one; the claim controller, which had looked
			// while the data was there, was woken by nothing, and the slug stayed taken.
			scim := scimIntegration(ns, "scim", "identity")
			scim.Spec.DeletionPolicy = v1alpha1.DeletionPolicyDelete
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
			Expect(k8s.Delete(ctx, scim)).To(Succeed())
			Expect(k8s.Delete(ctx, identity)).To(Succeed())
			eventually(scimData.deleted).Should(ContainElement(org))
			claim := &v1alpha1.OrganizationClaim{}
			eventually(func() bool {
				return k8s.Get(ctx, types.NamespacedName{Name: org}, claim) == nil && claim.Spec.Holder == nil
			}).Should(BeTrue())
			fakeClock.Step(11 * time.Minute) // past the namespace's grace
			poke(claim)
			eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, types.NamespacedName{Name: org}, claim)) }).Should(BeTrue())
		})

		It("keeps the data a sibling integration took over while Delete was pending", func() {
			first, sibling := firstAndSibling(v1alpha1.DeletionPolicyRetain)

			By("deleting the first while its data cannot be deleted yet: the sibling is chosen and binds the organization")
			scimData.setUnavailable(org, true)
			Expect(k8s.Delete(ctx, first)).To(Succeed())
			eventually(func() string { b, _ := scimData.OrganizationBinding(ctx, org); return b.Integration }).Should(Equal(string(sibling.UID)))

			By("the first's finalizer runs again: the data is the sibling's now, and stays")
			scimData.setUnavailable(org, false)
			eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(first), first)) }).Should(BeTrue())
			Expect(scimData.deleted()).NotTo(ContainElement(org))
			eventually(eventNotes(ns)).Should(ContainElement(ContainSubstring("ScimDataKept: Kept the SCIM data of organization " + org)))
			bound, err := scimData.OrganizationBinding(ctx, org)
			Expect(err).NotTo(HaveOccurred())
			Expect(bound.Integration).To(Equal(string(sibling.UID)))
		})

		// deletedWhenItBinds deletes an integration the moment it binds the organization: its
		// status (status.organization) is then never saved.
		// Set before the integration is created: the controller may bind at once.
		deletedWhenItBinds := func(scim *v1alpha1.ScimIntegration) {
			key := client.ObjectKeyFromObject(scim)
			scimData.setOnBind(org, func(b store.Binding) {
				current := &v1alpha1.ScimIntegration{}
				if k8s.Get(ctx, key, current) == nil && b.Integration == string(current.UID) {
					Expect(k8s.Delete(ctx, current)).To(Succeed())
				}
			})
			DeferCleanup(func() { scimData.setOnBind(org, nil) })
		}

		It("deletes the data of an integration deleted before its status named the organization", func() {
			scim := scimIntegration(ns, "scim", "identity")
			scim.Spec.DeletionPolicy = v1alpha1.DeletionPolicyDelete
			scim.Finalizers = []string{"enterprise.z8z8.io/scim-data"} // bound before its first status
			deletedWhenItBinds(scim)
			Expect(k8s.Create(ctx, scim)).To(Succeed())
			eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(scim), scim)) }).Should(BeTrue())
			Expect(scimData.deleted()).To(ContainElement(org))
		})

		It("deletes the data when the sibling that took it over is deleted as well", func() {
			first, sibling := firstAndSibling(v1alpha1.DeletionPolicyDelete)

			scimData.setUnavailable(org, true)
			deletedWhenItBinds(sibling)
			Expect(k8s.Delete(ctx, first)).To(Succeed())
			eventually(func() string { b, _ := scimData.OrganizationBinding(ctx, org); return b.Integration }).Should(Equal(string(sibling.UID)))
			scimData.setUnavailable(org, false)
			for _, s := range []*v1alpha1.ScimIntegration{first, sibling} {
				eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(s), s)) }).Should(BeTrue())
			}
			Expect(scimData.deleted()).To(ContainElement(org))
		})
	})
})
