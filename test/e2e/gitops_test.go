package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// argoManager is the field manager Argo CD's server-side apply writes with.
const argoManager = "argocd-controller"

// argoApply applies manifests the way Argo CD does with ServerSideApply=true.
func argoApply(t *testing.T, sys *system, args ...string) {
	t.Helper()
	sys.kubectl(t, append([]string{"apply", "--server-side", "--field-manager=" + argoManager, "--force-conflicts"}, args...)...)
}

// GitOps and the wizard share an organization: the wizard rotates without touching the spec,
// refuses to change what Git holds (saying where to change it), may set what Git leaves alone,
// and the next sync succeeds and keeps all of that.
func TestGitOpsAndWizardShareAnOrganization(t *testing.T) {
	g := patient(t)
	sys := start(t)
	samples := filepath.Join("..", "..", "config", "samples")
	argoApply(t, sys, "-k", samples)
	acme := types.NamespacedName{Namespace: "acme", Name: "acme"}
	g.Eventually(readyReason(sys, acme)).Should(Equal("True/Ready"))
	sys.kubectl(t, "create", "clusterrole", "org-admin", "--verb=get,list,watch,update,patch",
		"--resource=scimintegrations.enterprise.z8z8.io,enterpriseidentities.enterprise.z8z8.io,roletemplates.enterprise.z8z8.io")
	sys.kubectl(t, "-n", "acme", "create", "rolebinding", "alice-org-admin", "--clusterrole=org-admin", "--user=alice")
	wizard := newWizardClient(t, sys, "alice")
	page := "/settings/enterprise/identity-setup/acme/acme"

	t.Log("the admin rotates the token in the wizard: a request annotation, not a spec change")
	before := fingerprint(t, sys, acme)
	status, body := wizard.post(page+"/credentials", page+"/credentials/rotate", nil)
	g.Expect(status).To(Equal(http.StatusSeeOther), body)
	g.Eventually(func() string { return fingerprint(t, sys, acme) }).ShouldNot(Equal(before))
	rotated := fingerprint(t, sys, acme)
	scim := getScim(g, sys, acme)
	g.Expect(scim.Spec.Token.Rotation).To(BeZero(), "Git's counter is untouched")
	g.Expect(scim.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationRotateToken, "1"))
	g.Expect(scim.Status.Token.RotationRequest).To(Equal("1"))

	t.Log("the provisioning page says up front who else manages the organization")
	_, body = wizard.do("GET", page+"/provisioning", nil)
	g.Expect(body).To(ContainSubstring("also managed by " + argoManager))

	t.Log("switching provisioning off, a field Git holds, is refused with where to change it")
	form := url.Values{"enabled": nil, "autoActivate": {"on"}, "onDeactivate": {"Suspend"}, "onDelete": {"Deactivate"}, "defaultRoleTemplate": {"member"}}
	status, body = wizard.post(page+"/provisioning", page+"/provisioning", form)
	g.Expect(status).To(Equal(http.StatusUnprocessableEntity))
	g.Expect(body).To(SatisfyAll(ContainSubstring("managed by "+argoManager), ContainSubstring("spec.enabled: false")))
	g.Expect(*getScim(g, sys, acme).Spec.Enabled).To(BeTrue(), "nothing was written")

	t.Log("a field Git leaves alone (dry run) is the wizard's to set")
	form.Set("enabled", "on")
	form.Set("dryRun", "on")
	status, body = wizard.post(page+"/provisioning", page+"/provisioning", form)
	g.Expect(status).To(Equal(http.StatusSeeOther), body)
	g.Expect(getScim(g, sys, acme).Spec.Provisioning.Mode).To(Equal(v1alpha1.ProvisioningDryRun))

	t.Log("the next sync of the unchanged manifests succeeds and keeps what the wizard did")
	generation := getScim(g, sys, acme).Generation
	argoApply(t, sys, "-k", samples)
	scim = getScim(g, sys, acme)
	g.Expect(scim.Generation).To(Equal(generation), "nothing to sync back")
	g.Expect(scim.Spec.Provisioning.Mode).To(Equal(v1alpha1.ProvisioningDryRun))
	g.Expect(scim.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationRotateToken, "1"))
	g.Consistently(func() string { return fingerprint(t, sys, acme) }, 2*time.Second).Should(Equal(rotated), "no second rotation")

	t.Log("the admin API rotates the same way, and a sync after it succeeds too")
	status, body = send(t, "127.0.0.1", "POST", sys.baseURL+"/api/v1alpha1/organizations/acme/token/rotate", "",
		map[string]string{"X-Remote-User": "alice", "X-EIO-Request": "1"})
	g.Expect(status).To(Equal(http.StatusAccepted), body)
	g.Eventually(func() string { return fingerprint(t, sys, acme) }).ShouldNot(Equal(rotated))
	argoApply(t, sys, "-k", samples)
	g.Expect(getScim(g, sys, acme).Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationRotateToken, "2"))
}

// The operator writes status (and its finalizers) only: after every reconcile path, no spec,
// label or annotation belongs to any manager but the ones that applied them.
func TestOperatorWritesStatusOnly(t *testing.T) {
	g := patient(t)
	sys := start(t)
	argoApply(t, sys, "-k", filepath.Join("..", "..", "config", "samples"))
	acme := types.NamespacedName{Namespace: "acme", Name: "acme"}
	g.Eventually(readyReason(sys, acme)).Should(Equal("True/Ready"))

	t.Log("token issue, acknowledgement by the first request, endpoint and summary")
	tok := readToken(g, sys, acme)
	status, body := call(t, "POST", sys.baseURL+"/scim/v2/acme/Users", tok,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.example"}`)
	g.Expect(status).To(Equal(http.StatusCreated), body)
	g.Eventually(func() *metav1.Time { return getScim(g, sys, acme).Status.Token.LastUsedAt }).ShouldNot(BeNil())

	t.Log("rotation declared in Git")
	generation := getScim(g, sys, acme).Generation
	patched := strings.ReplaceAll(readFile(t, filepath.Join("..", "..", "config", "samples", "enterprise_v1alpha1_scimintegration.yaml")), "rotation: 0", "rotation: 1")
	argoApply(t, sys, "-f", writeTemp(t, patched))
	g.Eventually(func() int64 { return getScim(g, sys, acme).Status.Token.Rotation }).Should(Equal(int64(1)))
	g.Expect(getScim(g, sys, acme).Generation).To(Equal(generation + 1))

	t.Log("an organization whose SSO fails, then its deletion")
	failing := `apiVersion: enterprise.z8z8.io/v1alpha1
kind: EnterpriseIdentity
metadata: {name: globex, namespace: acme, labels: {team: globex}, annotations: {owner: platform}}
spec:
  organization: globex
  sso: {oidc: {issuerURL: "http://127.0.0.1:9/", clientID: globex, clientSecretRef: {name: globex-oidc, key: client-secret}}}
---
apiVersion: enterprise.z8z8.io/v1alpha1
kind: ScimIntegration
metadata: {name: globex, namespace: acme, labels: {team: globex}}
spec: {identityRef: {name: globex}, deletionPolicy: Delete}
`
	argoApply(t, sys, "-f", writeTemp(t, failing))
	globex := types.NamespacedName{Namespace: "acme", Name: "globex"}
	g.Eventually(conditionOf(sys, globex, v1alpha1.ConditionSSOReady)).Should(Equal("False/WaitingForSSO"))

	for _, obj := range []client.Object{&v1alpha1.EnterpriseIdentity{}, &v1alpha1.ScimIntegration{}} {
		for _, k := range []types.NamespacedName{acme, globex} {
			g.Expect(sys.k8s.Get(sys.ctx, k, obj)).To(Succeed())
			g.Expect(obj.GetGeneration()).To(Equal(expectedGeneration(obj, k)), "%T %s", obj, k)
			assertOnlyAppliersOwnSpec(t, g, obj)
		}
	}
	g.Expect(sys.k8s.Delete(sys.ctx, &v1alpha1.ScimIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "globex"}})).To(Succeed())
	g.Expect(sys.k8s.Delete(sys.ctx, &v1alpha1.EnterpriseIdentity{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "globex"}})).To(Succeed())
	g.Eventually(gone(sys, &v1alpha1.ScimIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "globex"}})).Should(BeTrue())
	g.Eventually(gone(sys, &v1alpha1.EnterpriseIdentity{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "globex"}})).Should(BeTrue())
}

// expectedGeneration: acme's ScimIntegration was applied twice (rotation 0, then 1); everything
// else once. The operator's own writes (status, finalizers) never move it.
func expectedGeneration(obj client.Object, k types.NamespacedName) int64 {
	if _, ok := obj.(*v1alpha1.ScimIntegration); ok && k.Name == "acme" {
		return 2
	}
	return 1
}

// assertOnlyAppliersOwnSpec fails when a manager other than the GitOps tool or the wizard owns
// a spec field, a label or an annotation of obj.
func assertOnlyAppliersOwnSpec(t *testing.T, g *WithT, obj client.Object) {
	t.Helper()
	for _, m := range obj.GetManagedFields() {
		if m.Manager == argoManager || m.Manager == service.FieldManager || m.Manager == service.RotationFieldManager || m.Subresource == "status" || m.FieldsV1 == nil {
			continue
		}
		var fields map[string]any
		g.Expect(json.Unmarshal(m.FieldsV1.GetRawBytes(), &fields)).To(Succeed())
		g.Expect(fields).NotTo(HaveKey("f:spec"), "%s owns spec fields of %s: %s", m.Manager, obj.GetName(), m.FieldsV1.GetRawString())
		if meta, ok := fields["f:metadata"].(map[string]any); ok {
			g.Expect(meta).NotTo(HaveKey("f:labels"), "%s owns labels of %s", m.Manager, obj.GetName())
			g.Expect(meta).NotTo(HaveKey("f:annotations"), "%s owns annotations of %s", m.Manager, obj.GetName())
		}
	}
}

func getScim(g *WithT, sys *system, k types.NamespacedName) *v1alpha1.ScimIntegration {
	scim := &v1alpha1.ScimIntegration{}
	g.Expect(sys.k8s.Get(sys.ctx, k, scim)).To(Succeed())
	return scim
}

func readToken(g *WithT, sys *system, k types.NamespacedName) string {
	scim := getScim(g, sys, k)
	out, err := base64Decode(strings.TrimSpace(sysKubectlOut(sys, "-n", k.Namespace, "get", "secret", scim.Status.Token.SecretName, "-o", "jsonpath={.data.token}")))
	g.Expect(err).NotTo(HaveOccurred())
	return out
}

func sysKubectlOut(sys *system, args ...string) string {
	out, _ := kubectlResult(sys, args...)
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path) //nolint:gosec // a test fixture
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// wizardClient is a browser-less admin behind the test's authenticating proxy: it keeps the
// wizard's session cookie and echoes each page's CSRF token, as a browser submitting the form.
type wizardClient struct {
	t    *testing.T
	sys  *system
	user string
	http *http.Client
}

func newWizardClient(t *testing.T, sys *system, user string) *wizardClient {
	jar, _ := cookiejar.New(nil)
	return &wizardClient{t: t, sys: sys, user: user, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// post loads page, then submits form to action with the page's CSRF token.
func (w *wizardClient) post(page, action string, form url.Values) (int, string) {
	w.t.Helper()
	_, body := w.do("GET", page, nil)
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		w.t.Fatalf("no CSRF token on %s: %s", page, body)
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", m[1])
	return w.do("POST", action, form)
}

func (w *wizardClient) do(method, path string, form url.Values) (int, string) {
	w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(context.Background(), method, w.sys.baseURL+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("X-Remote-User", w.user)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", w.sys.baseURL)
	}
	resp, err := w.http.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
