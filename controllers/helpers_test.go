package controllers_test

import (
	"fmt"
	"sync/atomic"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/test/localidp"
)

var nameCounter atomic.Int64

// uniqueName returns a DNS label unique in this test run.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nameCounter.Add(1))
}

// newNamespace creates a namespace for one test.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("ns")}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	return ns.Name
}

// samlIdentity is an EnterpriseIdentity whose SAML metadata is read from idp.
func samlIdentity(ns, name, org string, idp *localidp.Provider) *v1alpha1.EnterpriseIdentity {
	return &v1alpha1.EnterpriseIdentity{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.EnterpriseIdentitySpec{
			Organization: org,
			SSO:          v1alpha1.SSOSpec{SAML: &v1alpha1.SAMLSpec{MetadataURL: idp.MetadataURL()}},
		},
	}
}

// oidcIdentity is an EnterpriseIdentity named org using idp's OIDC issuer and the client secret in
// Secret oidc.
func oidcIdentity(ns, org string, idp *localidp.Provider) *v1alpha1.EnterpriseIdentity {
	return &v1alpha1.EnterpriseIdentity{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "org"},
		Spec: v1alpha1.EnterpriseIdentitySpec{
			Organization: org,
			SSO: v1alpha1.SSOSpec{OIDC: &v1alpha1.OIDCSpec{
				IssuerURL: idp.URL(),
				ClientID:  "eio-test",
				ClientSecretRef: corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "oidc"},
					Key:                  "client-secret",
				},
			}},
		},
	}
}

func scimIntegration(ns, name, identity string) *v1alpha1.ScimIntegration {
	return &v1alpha1.ScimIntegration{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.ScimIntegrationSpec{
			IdentityRef: v1alpha1.LocalRef{Name: identity},
			Enabled:     ptr.To(true),
		},
	}
}

// condition returns a getter for an object's condition, for Eventually.
func condition(obj client.Object, typ string) func() *metav1.Condition {
	return func() *metav1.Condition {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return nil
		}
		switch o := obj.(type) {
		case *v1alpha1.EnterpriseIdentity:
			return meta.FindStatusCondition(o.Status.Conditions, typ)
		case *v1alpha1.ScimIntegration:
			return meta.FindStatusCondition(o.Status.Conditions, typ)
		}
		return nil
	}
}

// haveStatus matches a condition with this status and reason.
func haveStatus(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(Not(BeNil()), WithTransform(func(c *metav1.Condition) metav1.ConditionStatus { return c.Status }, Equal(status)),
		WithTransform(func(c *metav1.Condition) string { return c.Reason }, Equal(reason)))
}

func beTrue(reason string) OmegaMatcher  { return haveStatus(metav1.ConditionTrue, reason) }
func beFalse(reason string) OmegaMatcher { return haveStatus(metav1.ConditionFalse, reason) }

// eventually polls often; envtest is fast.
func eventually(actual any) AsyncAssertion {
	return Eventually(actual).WithTimeout(20 * time.Second).WithPolling(100 * time.Millisecond)
}

func consistently(actual any) AsyncAssertion {
	return Consistently(actual).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond)
}

// secret returns a getter for a Secret's data.
func secretData(ns, name string) func() map[string][]byte {
	return func() map[string][]byte {
		s := &corev1.Secret{}
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, s); err != nil {
			return nil
		}
		return s.Data
	}
}

// eventNotes lists the notes of events about objects in a namespace.
func eventNotes(ns string) func() []string {
	return func() []string {
		list := &eventsv1.EventList{}
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return nil
		}
		notes := make([]string, 0, len(list.Items))
		for _, e := range list.Items {
			notes = append(notes, e.Reason+": "+e.Note)
		}
		return notes
	}
}

// poke changes an annotation so the controller reconciles now (after the fake clock moved).
func poke(obj client.Object) {
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["test.z8z8.io/poke"] = fmt.Sprint(time.Now().UnixNano())
	obj.SetAnnotations(a)
	Expect(k8s.Patch(ctx, obj, patch)).To(Succeed())
}

// update re-reads obj, applies mutate and writes it, retrying when the controller wrote in
// between (it adds a finalizer, for example).
func update[T client.Object](obj T, mutate func(T)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate(obj)
		return k8s.Update(ctx, obj)
	})
}
