package ha

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// orgNamespace holds the test's organizations.
const orgNamespace = "ha"

// createOrganization creates an organization from the samples (inline SAML metadata, so SSO
// validates without network), with its rate limit out of the way of the test's load.
func (c *cluster) createOrganization(t *testing.T, slug string) {
	t.Helper()
	role := &v1alpha1.RoleTemplate{}
	identity := &v1alpha1.EnterpriseIdentity{}
	integration := &v1alpha1.ScimIntegration{}
	readSample(t, "enterprise_v1alpha1_roletemplate.yaml", role)
	readSample(t, "enterprise_v1alpha1_enterpriseidentity.yaml", identity)
	readSample(t, "enterprise_v1alpha1_scimintegration.yaml", integration)
	identity.ObjectMeta = metav1.ObjectMeta{Name: slug, Namespace: orgNamespace}
	identity.Spec.Organization = slug
	identity.Spec.Domains = []string{slug + ".example"}
	integration.ObjectMeta = metav1.ObjectMeta{Name: slug, Namespace: orgNamespace}
	integration.Spec.IdentityRef.Name = slug
	integration.Spec.RateLimit = v1alpha1.RateLimitSpec{RequestsPerSecond: ptr.To[int32](100000), Burst: ptr.To[int32](100000)}
	role.ObjectMeta = metav1.ObjectMeta{Name: role.Name, Namespace: orgNamespace}
	objs := []client.Object{identity, integration}
	if err := c.k8s.Get(t.Context(), client.ObjectKeyFromObject(role), &v1alpha1.RoleTemplate{}); err != nil {
		objs = append(objs, role)
	}
	for _, o := range objs {
		if err := c.k8s.Create(t.Context(), o); err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
	}
}

func readSample(t *testing.T, file string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", file)) //nolint:gosec // the repository's samples
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// waitOrganizationReady waits until the organization's ScimIntegration is Ready, which only the
// leader's controllers can make it.
func (c *cluster) waitOrganizationReady(t *testing.T, slug string, timeout time.Duration) {
	t.Helper()
	integration := &v1alpha1.ScimIntegration{}
	deadline := time.Now().Add(timeout)
	for ; time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := c.k8s.Get(t.Context(), types.NamespacedName{Namespace: orgNamespace, Name: slug}, integration); err != nil {
			continue
		}
		if meta.IsStatusConditionTrue(integration.Status.Conditions, v1alpha1.ConditionReady) {
			return
		}
	}
	t.Fatalf("organization %s was not Ready within %s: %+v", slug, timeout, integration.Status.Conditions)
}

// token reads the organization's token from its Secret (once: the first SCIM request
// acknowledges it and the operator removes the plaintext).
func (c *cluster) token(t *testing.T, slug string) string {
	t.Helper()
	integration := &v1alpha1.ScimIntegration{}
	if err := c.k8s.Get(t.Context(), types.NamespacedName{Namespace: orgNamespace, Name: slug}, integration); err != nil {
		t.Fatal(err)
	}
	if integration.Status.Token == nil {
		t.Fatalf("organization %s has no token in status", slug)
	}
	secret := &corev1.Secret{}
	if err := c.k8s.Get(t.Context(), types.NamespacedName{Namespace: orgNamespace, Name: integration.Status.Token.SecretName}, secret); err != nil {
		t.Fatal(err)
	}
	tok := string(secret.Data["token"])
	if tok == "" {
		t.Fatalf("the token of %s is no longer retrievable", slug)
	}
	return tok
}

// waitServed waits until every running replica serves the organization: each data plane learns
// it from its own cache, a moment after the leader marked it Ready.
func (c *cluster) waitServed(t *testing.T, slug, token string) {
	t.Helper()
	for _, r := range c.replicas {
		if !r.running() {
			continue
		}
		deadline := time.Now().Add(time.Minute)
		for {
			status, body := scimGet(t, r, slug, token, "/Users?count=1")
			if status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not serve %s: %d %s", r.name, slug, status, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
