package secrets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
)

// A namespace admin can put the operator's label on their own Secrets, Services and Ingresses,
// each up to the API server's 1.5 MiB: thousands of finalizers, 256 KiB of annotations, large
// data or specs. Cached whole, a few hundred of them ran every replica, and the leader after it,
// out of memory; the cache keeps a few KiB of each, the operator's own fields at their longest.
func TestForgedObjectsAreCachedSmall(t *testing.T) {
	cfg, k8s := controlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	const ns = "forged"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	longest := strings.Repeat(strings.Repeat("n", 62)+".", 4) + "n" // a DNS name of 253 characters
	label := strings.Repeat("l", 63)                                // and a DNS label of 63

	// A controller reference within the bounds of the operator's own (its kinds, DNS names, UUIDs)
	// is kept: readers tell a foreign owner apart by its UID.
	owner := []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: label, Name: longest,
		UID: "00000000-0000-0000-0000-000000000000", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	// Each of the operator's data keys and annotations at the longest value the cache keeps.
	worst := &corev1.Secret{ObjectMeta: forgedMeta(ns, longest), Data: map[string][]byte{}}
	worst.OwnerReferences = owner
	for _, k := range []string{v1alpha1.SecretKeyToken, v1alpha1.SecretKeySHA256, v1alpha1.SecretKeyPreviousSHA256,
		v1alpha1.SecretKeySigningKey, v1alpha1.SecretKeySigningKey + v1alpha1.SecretKeyPreviousSuffix} {
		worst.Data[k] = []byte(strings.Repeat("k", 128))
	}
	for k, n := range map[string]int{v1alpha1.AnnotationRotation: 32, v1alpha1.AnnotationIssuedAt: 64,
		v1alpha1.AnnotationPreviousValidUntil: 64, v1alpha1.AnnotationTokenLastUsedAt: 64,
		v1alpha1.AnnotationRotationRequest: 128, v1alpha1.AnnotationTokenAcknowledged: 1 << 10} {
		worst.Annotations[k] = strings.Repeat("a", n)
	}
	// Large data and labels, and values too long to be the operator's under its keys.
	data := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data",
		Labels:      map[string]string{secrets.ManagedByLabel: secrets.ManagedByValue},
		Annotations: map[string]string{v1alpha1.AnnotationIssuedAt: strings.Repeat("b", 8<<10)}},
		Data: map[string][]byte{"payload": make([]byte, 900<<10), "token": make([]byte, 64<<10), "sha256": []byte("kept")}}
	for i := range 200 {
		data.Labels[fmt.Sprintf("padding-%d", i)] = strings.Repeat("x", 63)
	}
	// A spec of the operator's shape with every name at its longest, and one of 500 rules.
	pathType := networkingv1.PathTypePrefix
	rule := func(host, path string) networkingv1.IngressRule {
		return networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: path, PathType: &pathType, Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: label, Port: networkingv1.ServiceBackendPort{Number: 65535}}}}}}}}
	}
	ingress := &networkingv1.Ingress{ObjectMeta: forgedMeta(ns, longest), Spec: networkingv1.IngressSpec{
		IngressClassName: ptr.To(longest), TLS: []networkingv1.IngressTLS{{Hosts: []string{longest}, SecretName: longest}},
		Rules: []networkingv1.IngressRule{rule(longest, "/scim/v2/"+label)}}}
	ingress.OwnerReferences = owner
	rules := &networkingv1.Ingress{ObjectMeta: forgedMeta(ns, "rules")}
	for i := range 500 {
		rules.Spec.Rules = append(rules.Spec.Rules, rule(fmt.Sprintf("h%d.example.com", i), "/"+strings.Repeat("p", 200)))
	}
	// A Service of the operator's shape (one port) with every name at its longest, and one of 100 ports.
	port := func(i int) corev1.ServicePort {
		return corev1.ServicePort{Name: fmt.Sprintf("%s%02d", label[:61], i), Port: int32(1000 + i),
			AppProtocol: ptr.To(longest + "/" + label), TargetPort: intstr.FromString(label[:15])}
	}
	service := &corev1.Service{ObjectMeta: forgedMeta(ns, label), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeExternalName, ExternalName: longest, Ports: []corev1.ServicePort{port(0)}}}
	service.OwnerReferences = owner
	ports := &corev1.Service{ObjectMeta: forgedMeta(ns, "ports"), Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: longest}}
	for i := range 100 {
		ports.Spec.Ports = append(ports.Spec.Ports, port(i))
	}
	for _, obj := range []client.Object{worst, data, ingress, rules, service, ports} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatalf("creating %s: %v", obj.GetName(), err)
		}
	}

	c := startCache(ctx, t, cfg)
	for _, tc := range []struct {
		name   string
		obj    client.Object
		bound  int
		owners int // kept owner references
		check  func(client.Object) string
	}{
		{"the operator's keys at their longest", worst, 4 << 10, 1, func(o client.Object) string {
			if s := o.(*corev1.Secret); len(s.Data) != 5 || len(s.Annotations) != 6 {
				return fmt.Sprintf("keeps %d of the 5 data keys and %d of the 6 annotations", len(s.Data), len(s.Annotations))
			}
			return ""
		}},
		{"large data and labels", data, 4 << 10, 0, func(o client.Object) string {
			if s := o.(*corev1.Secret); len(s.Data) != 1 || string(s.Data["sha256"]) != "kept" {
				return fmt.Sprintf("keeps data keys %v; want only sha256", s.Data)
			}
			return ""
		}},
		{"an Ingress of the operator's shape", ingress, 8 << 10, 1, func(o client.Object) string {
			if i := o.(*networkingv1.Ingress); len(i.Spec.Rules) != 1 || len(i.Annotations) != 32 {
				return fmt.Sprintf("keeps %d rules and %d annotations; want 1 and 32", len(i.Spec.Rules), len(i.Annotations))
			}
			return ""
		}},
		{"an Ingress of 500 rules", rules, 8 << 10, 0, nil},
		{"a Service of the operator's shape", service, 4 << 10, 1, func(o client.Object) string {
			if s := o.(*corev1.Service); len(s.Spec.Ports) != 1 || s.Spec.ExternalName != longest {
				return fmt.Sprintf("keeps %d ports and external name %q", len(s.Spec.Ports), s.Spec.ExternalName)
			}
			return ""
		}},
		{"a Service of 100 ports", ports, 4 << 10, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cached := tc.obj.DeepCopyObject().(client.Object)
			if err := c.Get(ctx, client.ObjectKeyFromObject(tc.obj), cached); err != nil {
				t.Fatal(err)
			}
			encoded, err := json.Marshal(cached)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("cached: %d bytes", len(encoded))
			switch {
			case len(encoded) > tc.bound:
				t.Errorf("the cache holds %d bytes of it; want at most %d", len(encoded), tc.bound)
			case len(cached.GetFinalizers()) > 0 || len(cached.GetOwnerReferences()) != tc.owners:
				t.Errorf("the cache keeps %d finalizers and %d owner references; want none and %d",
					len(cached.GetFinalizers()), len(cached.GetOwnerReferences()), tc.owners)
			}
			if tc.check != nil {
				if msg := tc.check(cached); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

// forgedMeta is an object labelled as the operator's with what the API server lets any namespace
// admin add: 1,000 finalizers of 200 bytes, 250 KiB of annotations (200 KiB of them in values of
// 4 KiB), and a controller reference of 100 KiB naming one of the operator's kinds.
func forgedMeta(ns, name string) metav1.ObjectMeta {
	m := metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{},
		Labels: map[string]string{secrets.ManagedByLabel: secrets.ManagedByValue, secrets.OrganizationLabel: strings.Repeat("o", 63)}}
	for i := range 1000 {
		m.Finalizers = append(m.Finalizers, fmt.Sprintf("%sexample.com/f%d", strings.Repeat(strings.Repeat("d", 60)+".", 3), i))
	}
	for i := range 50 {
		m.Annotations[fmt.Sprintf("example.com/large-%d", i)] = strings.Repeat("a", 4<<10)
	}
	for i := range 400 {
		m.Annotations[fmt.Sprintf("example.com/small-%03d", i)] = strings.Repeat("a", 100)
	}
	m.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "ScimIntegration",
		Name: strings.Repeat("n", 100<<10), UID: "forged", Controller: ptr.To(true)}}
	return m
}
