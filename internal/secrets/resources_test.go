package secrets_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// A namespace admin writes the operator's custom resources, which every replica caches: their
// specs are bounded by the CRDs, their metadata only by the API server's 1.5 MiB (1,000
// finalizers, 250 KiB of annotations, 200 labels and a 100 KiB owner reference here). Cached
// whole, 20 objects of each kind in 100 namespaces were gigabytes on every replica; the cache
// keeps the spec, the status, and of the metadata what the operator reads: its identity, the
// operator's own finalizer and the rotate-token annotation.
func TestTenantResourcesAreCachedWithTheirBoundedSpecOnly(t *testing.T) {
	cfg, k8s := controlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	const ns = "resources"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	longest := strings.Repeat(strings.Repeat("n", 62)+".", 4) + "n" // a DNS name of 253 characters
	label := strings.Repeat("l", 63)                                // and a DNS label of 63
	long := func(n int) string { return strings.Repeat("x", n) }
	longRequest := strings.Repeat("r", 4<<10)

	// tenant's metadata: forgedMeta's, the operator's finalizer among the others, and a
	// rotate-token request.
	tenant := func(name, finalizer, request string) metav1.ObjectMeta {
		m := forgedMeta(ns, name)
		for i := range 200 {
			m.Labels[fmt.Sprintf("padding-%d", i)] = strings.Repeat("x", 63)
		}
		if finalizer != "" {
			m.Finalizers = slices.Insert(m.Finalizers, 500, finalizer)
		}
		m.Annotations[v1alpha1.AnnotationRotateToken] = request
		return m
	}

	// Each kind with a spec as the samples have it, and with every field at its longest.
	saml := &v1alpha1.SAMLSpec{Metadata: "<md:EntityDescriptor/>"}
	identity := &v1alpha1.EnterpriseIdentity{ObjectMeta: tenant("identity", v1alpha1.FinalizerOrganizationClaim, "3"),
		Spec: v1alpha1.EnterpriseIdentitySpec{Organization: "acme", SSO: v1alpha1.SSOSpec{SAML: saml}}}
	worstIdentity := &v1alpha1.EnterpriseIdentity{ObjectMeta: tenant(longest, v1alpha1.FinalizerOrganizationClaim, "3"),
		Spec: v1alpha1.EnterpriseIdentitySpec{Organization: label, DisplayName: long(256),
			SSO: v1alpha1.SSOSpec{SAML: &v1alpha1.SAMLSpec{Metadata: long(256 << 10), EntityID: long(1024)}}}}
	for i := range 64 {
		d := strings.Repeat("d", 63)
		worstIdentity.Spec.Domains = append(worstIdentity.Spec.Domains,
			fmt.Sprintf("x%02d%s.%s.%s.%s", i, d[:60], d, d, strings.Repeat("a", 61)))
	}

	integration := &v1alpha1.ScimIntegration{ObjectMeta: tenant("integration", v1alpha1.FinalizerSCIMData, "3"),
		Spec: v1alpha1.ScimIntegrationSpec{IdentityRef: v1alpha1.LocalRef{Name: "identity"}}}
	worstIntegration := &v1alpha1.ScimIntegration{ObjectMeta: tenant(longest, v1alpha1.FinalizerSCIMData, longRequest),
		Spec: v1alpha1.ScimIntegrationSpec{IdentityRef: v1alpha1.LocalRef{Name: longest},
			Provisioning: v1alpha1.ProvisioningSpec{DefaultRoleTemplate: longest,
				Deprovision: v1alpha1.DeprovisionSpec{MaxPerHour: ptr.To(int32(1))}},
			Token: v1alpha1.TokenSpec{SecretRef: &v1alpha1.TokenSecretRef{Name: longest, Key: long(253)}},
			Endpoint: v1alpha1.EndpointSpec{Ingress: v1alpha1.IngressSpec{Enabled: true, ClassName: longest, Host: longest,
				TLSSecretName: longest, Annotations: map[string]string{}}}}}
	for range 100 {
		worstIntegration.Spec.Provisioning.GroupRoles = append(worstIntegration.Spec.Provisioning.GroupRoles,
			v1alpha1.GroupRoleMapping{Group: long(256), RoleTemplate: longest})
	}
	for i := range 32 { // 32 annotations of 128 characters: 4096 in all
		worstIntegration.Spec.Endpoint.Ingress.Annotations[fmt.Sprintf("example.com/a%02d", i)] = long(128 - 15)
	}

	subscription := &v1alpha1.EventSubscription{ObjectMeta: tenant("subscription", v1alpha1.FinalizerEventDelivery, "3"),
		Spec: v1alpha1.EventSubscriptionSpec{URL: "https://receiver.example.com/events"}}
	worstSubscription := &v1alpha1.EventSubscription{ObjectMeta: tenant(longest, v1alpha1.FinalizerEventDelivery, "3"),
		Spec: v1alpha1.EventSubscriptionSpec{URL: "https://" + long(2040),
			SigningKey: &v1alpha1.SigningKeySpec{SecretRef: v1alpha1.SigningKeySecretRef{Name: longest, Key: long(253)}}}}
	for i := range 64 {
		worstSubscription.Spec.Organizations = append(worstSubscription.Spec.Organizations, fmt.Sprintf("%02d%s", i, label[2:]))
	}
	for i := range 32 {
		worstSubscription.Spec.Types = append(worstSubscription.Spec.Types, strings.Repeat("e", 62)+string(rune('a'+i/26))+string(rune('a'+i%26)))
	}

	role := &v1alpha1.RoleTemplate{ObjectMeta: tenant("role", "", "3"),
		Spec: v1alpha1.RoleTemplateSpec{DisplayName: "Engineer", Permissions: []string{"projects:read"}}}
	worstRole := &v1alpha1.RoleTemplate{ObjectMeta: tenant(longest, "", "3"),
		Spec: v1alpha1.RoleTemplateSpec{DisplayName: long(256), Description: long(2048)}}
	for i := range 256 {
		worstRole.Spec.Permissions = append(worstRole.Spec.Permissions, fmt.Sprintf("p%03d", i)+long(124))
	}

	for _, obj := range []client.Object{identity, worstIdentity, integration, worstIntegration, subscription, worstSubscription, role, worstRole} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatalf("creating %T %.20s: %v", obj, obj.GetName(), err)
		}
	}

	c := startCache(ctx, t, cfg)
	for _, tc := range []struct {
		name      string
		obj       client.Object
		spec      any
		finalizer string
		request   string
	}{
		{"an EnterpriseIdentity", identity, identity.Spec, v1alpha1.FinalizerOrganizationClaim, "3"},
		{"an EnterpriseIdentity at its bounds", worstIdentity, worstIdentity.Spec, v1alpha1.FinalizerOrganizationClaim, "3"},
		{"a ScimIntegration", integration, integration.Spec, v1alpha1.FinalizerSCIMData, "3"},
		{"a ScimIntegration at its bounds", worstIntegration, worstIntegration.Spec, v1alpha1.FinalizerSCIMData, longRequest},
		{"an EventSubscription", subscription, subscription.Spec, v1alpha1.FinalizerEventDelivery, "3"},
		{"an EventSubscription at its bounds", worstSubscription, worstSubscription.Spec, v1alpha1.FinalizerEventDelivery, "3"},
		{"a RoleTemplate", role, role.Spec, "", "3"},
		{"a RoleTemplate at its bounds", worstRole, worstRole.Spec, "", "3"},
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
			spec, err := json.Marshal(tc.spec) // as the API server defaulted it
			if err != nil {
				t.Fatal(err)
			}
			live := tc.obj.DeepCopyObject().(client.Object)
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(tc.obj), live); err != nil {
				t.Fatal(err)
			}
			whole, err := json.Marshal(live)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("cached: %d bytes, of which the spec %d; on the API server %d bytes", len(encoded), len(spec), len(whole))
			// The metadata kept, at its longest (a name of 253 characters), is under 1 KiB.
			if bound := len(spec) + 1<<10; len(encoded) > bound {
				t.Errorf("the cache holds %d bytes of it; want at most %d (its spec and 1 KiB of metadata)", len(encoded), bound)
			}
			var want []string
			if tc.finalizer != "" {
				want = []string{tc.finalizer}
			}
			if got := cached.GetFinalizers(); !slices.Equal(got, want) {
				t.Errorf("the cache keeps %d finalizers (%v among them: %t); want %v", len(got), want, slices.Contains(got, tc.finalizer), want)
			}
			// And a digest of what it leaves out, so that changing it still wakes the controller.
			wantAnnotations := map[string]string{v1alpha1.AnnotationRotateToken: token.RotationRequestMark(tc.request),
				secrets.AnnotationMetadataDigest: secrets.MetadataDigest(live)}
			if len(wantAnnotations[secrets.AnnotationMetadataDigest]) != 32 {
				t.Errorf("a digest of %q", wantAnnotations[secrets.AnnotationMetadataDigest])
			}
			if !maps.Equal(cached.GetAnnotations(), wantAnnotations) {
				t.Errorf("the cache keeps %d annotations, rotate-token %.80q; want only rotate-token %q",
					len(cached.GetAnnotations()), cached.GetAnnotations()[v1alpha1.AnnotationRotateToken], wantAnnotations[v1alpha1.AnnotationRotateToken])
			}
			if len(cached.GetLabels()) > 0 || len(cached.GetOwnerReferences()) > 0 || len(cached.GetManagedFields()) > 0 {
				t.Errorf("the cache keeps %d labels, %d owner references and %d managed fields entries; want none",
					len(cached.GetLabels()), len(cached.GetOwnerReferences()), len(cached.GetManagedFields()))
			}
			if cached.GetUID() != live.GetUID() || cached.GetResourceVersion() != live.GetResourceVersion() ||
				cached.GetGeneration() != live.GetGeneration() || cached.GetName() != live.GetName() {
				t.Errorf("the cache lost the object's identity: %s %s %d", cached.GetUID(), cached.GetResourceVersion(), cached.GetGeneration())
			}
		})
	}
}
