package controllers_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
	"github.com/z8z8/enterprise-identity-operator/test/localidp"
)

// restOrganizations is how many organizations share one namespace in the rest spec: enough that
// one pass's status write waking the next would show, few enough for envtest on 2 cores.
const restOrganizations = 24

// Once every organization is Ready, the operator must rest: with 1,000 organizations a status
// stamped on every pass (lastValidatedAt = now) kept kube-apiserver at a full core. Time passes
// (the fake clock moves, less than the recheck interval) and every object is woken, as a
// Secret or RoleTemplate change wakes them: a pass that learns nothing new writes nothing.
var _ = Describe("Many organizations at rest", func() {
	It("write no status until the SSO recheck interval, then record the revalidation", func() {
		ns := newNamespace()
		idp := localidp.New()
		DeferCleanup(idp.Close)
		clientSecret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "oidc"},
			Data:       map[string][]byte{"client-secret": []byte("s3cret")},
		}
		Expect(k8s.Create(ctx, clientSecret)).To(Succeed())
		for i := range restOrganizations {
			org := uniqueName("rest")
			dataPlane.set(org, true)
			eid := oidcIdentity(ns, org, idp)
			eid.Name = fmt.Sprintf("org-%02d", i)
			Expect(k8s.Create(ctx, eid)).To(Succeed())
			Expect(k8s.Create(ctx, scimIntegration(ns, eid.Name, eid.Name))).To(Succeed())
		}

		By("waiting until every organization is Ready and nothing moves")
		Eventually(readyCount(ns)).WithTimeout(2 * time.Minute).WithPolling(500 * time.Millisecond).Should(Equal(2 * restOrganizations))
		// Settled means two quiet windows in a row: a late pass of the start (an endpoint's
		// first serving, a claim's second look) is still settling, not rest.
		Eventually(func(g Gomega) {
			before := resourceVersions(ns)
			time.Sleep(3 * time.Second)
			g.Expect(resourceVersions(ns)).To(Equal(before))
			time.Sleep(3 * time.Second)
			g.Expect(resourceVersions(ns)).To(Equal(before))
		}).WithTimeout(2 * time.Minute).Should(Succeed())

		By("letting time pass within the recheck interval and waking every object")
		validated := lastValidated(ns, "org-00")
		rest := resourceVersions(ns)
		// Three minutes: within the SSO recheck interval, and short of the windows that move status
		// on by design (the summary's full refresh, 10 minutes; an error burst's, 5). Ten minutes
		// here once let CI see org-00's status written in the quiet window.
		fakeClock.Step(3 * time.Minute)
		wakeAll(ns, clientSecret, "within")
		Consistently(func() map[string]string { return resourceVersions(ns) }).WithTimeout(5 * time.Second).WithPolling(250 * time.Millisecond).Should(Equal(rest))

		By("validating again once the recheck interval has passed, which moves lastValidatedAt")
		fakeClock.Step(time.Hour)
		wakeAll(ns, clientSecret, "after")
		Eventually(func() time.Time { return lastValidated(ns, "org-00") }).WithTimeout(30 * time.Second).
			Should(BeTemporally(">=", validated.Add(time.Hour)))
		Expect(readyCount(ns)()).To(Equal(2 * restOrganizations))
	})
})

// readyCount counts the EnterpriseIdentities and ScimIntegrations of a namespace that are Ready.
func readyCount(ns string) func() int {
	return func() int {
		n := 0
		eids := &v1alpha1.EnterpriseIdentityList{}
		scims := &v1alpha1.ScimIntegrationList{}
		if k8s.List(ctx, eids, client.InNamespace(ns)) != nil || k8s.List(ctx, scims, client.InNamespace(ns)) != nil {
			return -1
		}
		for i := range eids.Items {
			if meta.IsStatusConditionTrue(eids.Items[i].Status.Conditions, v1alpha1.ConditionReady) {
				n++
			}
		}
		for i := range scims.Items {
			if meta.IsStatusConditionTrue(scims.Items[i].Status.Conditions, v1alpha1.ConditionReady) {
				n++
			}
		}
		return n
	}
}

// resourceVersions maps each EnterpriseIdentity, ScimIntegration and token Secret of a namespace
// to its resourceVersion: any write the operator makes there moves one.
func resourceVersions(ns string) map[string]string {
	versions := map[string]string{}
	lists := map[client.ObjectList][]client.ListOption{
		&v1alpha1.EnterpriseIdentityList{}: nil,
		&v1alpha1.ScimIntegrationList{}:    nil,
		&corev1.SecretList{}:               {client.MatchingLabels{secrets.ManagedByLabel: secrets.ManagedByValue}},
	}
	for list, opts := range lists {
		Expect(k8s.List(ctx, list, append(opts, client.InNamespace(ns))...)).To(Succeed())
		Expect(meta.EachListItem(list, func(o runtime.Object) error {
			obj := o.(client.Object)
			versions[fmt.Sprintf("%T/%s", obj, obj.GetName())] = obj.GetResourceVersion()
			return nil
		})).To(Succeed())
	}
	return versions
}

// wakeAll changes what every object of the namespace watches without changing what it means:
// a label on the shared OIDC client secret wakes every EnterpriseIdentity, a new RoleTemplate
// every ScimIntegration (neither is compared by resourceVersions).
func wakeAll(ns string, clientSecret *corev1.Secret, mark string) {
	Expect(update(clientSecret, func(s *corev1.Secret) { s.Labels = map[string]string{"test.z8z8.io/woken": mark} })).To(Succeed())
	Expect(k8s.Create(ctx, &v1alpha1.RoleTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wake-" + mark},
		Spec:       v1alpha1.RoleTemplateSpec{DisplayName: "Wake " + mark},
	})).To(Succeed())
}

func lastValidated(ns, name string) time.Time {
	eid := &v1alpha1.EnterpriseIdentity{}
	Expect(k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, eid)).To(Succeed())
	if eid.Status.SSO == nil || eid.Status.SSO.LastValidatedAt == nil {
		return time.Time{}
	}
	return eid.Status.SSO.LastValidatedAt.Time
}
