package secrets

import (
	"encoding/json"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// What the cache keeps of the Secrets, Services and Ingresses its label selects is built from an
// allow-list of what the operator reads, each field bounded: the label is one any namespace admin
// can put on their own objects, whose finalizers, annotations, data and specs are otherwise
// limited only by the API server's 1.5 MiB. Kept whole, a few hundred forged objects would run
// every replica (the Secret cache) and the leader (Services and Ingresses) out of memory. What
// is left out is never written back as removed: the operator patches what it changes.

// The data keys of the Secrets the operator writes (a token Secret's and a signing key's, with
// the previous key of a rotation), and the longest value kept: a token is 52 bytes, a hash 64, a
// signing key at most 94.
var cachedDataKeys = map[string]bool{
	v1alpha1.SecretKeyToken: true, v1alpha1.SecretKeySHA256: true, v1alpha1.SecretKeyPreviousSHA256: true,
	v1alpha1.SecretKeySigningKey: true, v1alpha1.SecretKeySigningKey + v1alpha1.SecretKeyPreviousSuffix: true,
}

const maxCachedValue = 128

// The annotations the operator writes on a token Secret (token.Secret), each with the longest
// value kept: times, a counter, a rotation request (token.RotationRequestMark), and who
// acknowledged the token (a user name, which Kubernetes does not bound).
var cachedAnnotations = map[string]int{
	v1alpha1.AnnotationRotation: 32, v1alpha1.AnnotationIssuedAt: 64, v1alpha1.AnnotationPreviousValidUntil: 64,
	v1alpha1.AnnotationTokenLastUsedAt: 64, v1alpha1.AnnotationRotationRequest: 128, v1alpha1.AnnotationTokenAcknowledged: 1 << 10,
}

// The labels the operator writes (their values are at most 63 characters).
var cachedLabels = map[string]bool{ManagedByLabel: true, OrganizationLabel: true}

// Bounds of an Ingress's or Service's spec, and of an Ingress's annotations (the integration's
// spec.endpoint.ingress.annotations). The operator writes one port, or one rule with one path and
// at most one TLS entry, under 1.5 KiB with every name at its longest; a spec of another shape is
// not kept, and the operator's next pass writes its own again. Beyond the annotations' bounds the
// cache differs from what the operator writes, and each pass sends a patch that changes nothing.
const (
	maxCachedSpec             = 2 << 10
	maxCachedAnnotations      = 4 << 10
	maxCachedAnnotationsCount = 32
)

// Bounds of a controller reference kept: the API server checks only that its fields are not
// empty, and the operator's own (its kinds, DNS names, UUIDs) are within these.
const (
	maxOwnerKind = 63
	maxOwnerName = 253
	maxOwnerUID  = 36
)

// trimSecret keeps of a Secret its identity, the operator's labels, data keys and annotations,
// and its controller reference.
func trimSecret(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return obj, nil // a tombstone of a deleted object
	}
	out := &corev1.Secret{ObjectMeta: keptMeta(&s.ObjectMeta)}
	for k, v := range s.Data {
		if cachedDataKeys[k] && len(v) <= maxCachedValue {
			if out.Data == nil {
				out.Data = map[string][]byte{}
			}
			out.Data[k] = v
		}
	}
	for k, v := range s.Annotations {
		if n, ok := cachedAnnotations[k]; ok && len(v) <= n {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[k] = v
		}
	}
	return out, nil
}

// trimService keeps of a Service what the operator writes (scimintegration_endpoint.go).
func trimService(obj any) (any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	out := &corev1.Service{ObjectMeta: keptMeta(&s.ObjectMeta),
		Spec: corev1.ServiceSpec{Type: s.Spec.Type, ExternalName: s.Spec.ExternalName, Ports: s.Spec.Ports}}
	if len(out.Spec.Ports) > 1 || !fits(out.Spec, maxCachedSpec) {
		out.Spec = corev1.ServiceSpec{}
	}
	return out, nil
}

// trimIngress keeps of an Ingress what the operator writes: its spec and annotations.
func trimIngress(obj any) (any, error) {
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok {
		return obj, nil
	}
	out := &networkingv1.Ingress{ObjectMeta: keptMeta(&ing.ObjectMeta), Spec: ing.Spec}
	if !operatorShaped(&out.Spec) || !fits(out.Spec, maxCachedSpec) {
		out.Spec = networkingv1.IngressSpec{}
	}
	out.Annotations = boundedAnnotations(ing.Annotations)
	return out, nil
}

// operatorShaped says whether an Ingress spec has no more rules, paths and TLS hosts than the
// operator writes (applyRouting).
func operatorShaped(s *networkingv1.IngressSpec) bool {
	if len(s.Rules) > 1 || len(s.TLS) > 1 {
		return false
	}
	for _, r := range s.Rules {
		if r.HTTP != nil && len(r.HTTP.Paths) > 1 {
			return false
		}
	}
	for _, t := range s.TLS {
		if len(t.Hosts) > 1 {
			return false
		}
	}
	return true
}

// keptMeta is an object's identity, the operator's labels and its controller reference, without
// finalizers, annotations, other owners or managed fields.
func keptMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	out := metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion, Generation: m.Generation,
		CreationTimestamp: m.CreationTimestamp, DeletionTimestamp: m.DeletionTimestamp,
	}
	for k, v := range m.Labels {
		if cachedLabels[k] {
			if out.Labels == nil {
				out.Labels = map[string]string{}
			}
			out.Labels[k] = v
		}
	}
	if ref := metav1.GetControllerOfNoCopy(m); ref != nil && ref.APIVersion == v1alpha1.GroupVersion.String() &&
		len(ref.Kind) <= maxOwnerKind && len(ref.Name) <= maxOwnerName && len(ref.UID) <= maxOwnerUID {
		out.OwnerReferences = []metav1.OwnerReference{*ref}
	}
	return out
}

// boundedAnnotations keeps whole annotations, in the order of their keys, within
// maxCachedAnnotations bytes and maxCachedAnnotationsCount entries (a map entry weighs more than
// its bytes); one that does not fit is skipped, so a large one leaves room for the operator's
// after it.
func boundedAnnotations(a map[string]string) map[string]string {
	var out map[string]string
	room := maxCachedAnnotations
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if n := len(k) + len(a[k]); n <= room && len(out) < maxCachedAnnotationsCount {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = a[k]
			room -= n
		}
	}
	return out
}

// fits says whether v's JSON encoding is at most limit bytes.
func fits(v any, limit int) bool {
	b, err := json.Marshal(v)
	return err == nil && len(b) <= limit
}
