package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/test/idp"
	"github.com/z8z8/enterprise-identity-operator/test/localidp"
)

// browser is a headless Chromium tab, optionally behind an authenticating proxy (X-Remote-User).
type browser struct {
	t   *testing.T
	ctx context.Context
	// shots is where screenshots go: docs/images with make screenshots, else a temp dir.
	shots string
}

func newBrowser(t *testing.T, user string) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("Chromium is not installed: make test installs it with apt-get (hack/chromium.sh)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, shots: os.Getenv("EIO_SCREENSHOTS")}
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if user != "" {
		// As an authenticating proxy in front of the wizard would.
		if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"X-Remote-User": user}}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// do performs browser steps, failing the test (with the page's text) after a minute.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v\npage text:\n%s", err, b.text())
	}
}

// read runs one action that returns a value.
func read[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %v", err)
	}
	return v
}

// waitForText waits until the page shows the text. The wizard's pages update and reload
// themselves while the operator works, and a poll does not survive a reload, so it polls again.
func (b *browser) waitForText(text string) {
	b.t.Helper()
	b.waitFor(`document.body && document.body.innerText.includes(` + jsString(text) + `)`)
}

// waitForURL waits until the browser has loaded a page whose URL contains part.
func (b *browser) waitForURL(part string) {
	b.t.Helper()
	b.waitFor(`location.href.includes(` + jsString(part) + `) && document.readyState === "complete"`)
}

// waitFor waits until the JavaScript predicate holds.
func (b *browser) waitFor(predicate string) {
	b.t.Helper()
	deadline := time.Now().Add(50 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate, chromedp.WithPollingInterval(100*time.Millisecond)))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("waiting for %s: %v\npage text:\n%s", predicate, err, b.text())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *browser) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// screenshot saves the page as it looks, after checking it with axe-core (WCAG 2.1 A and AA
// rules): every page state worth a picture must also be accessible.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	b.accessible(name)
	png := read(b, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil { //nolint:gosec // screenshots are public docs
		b.t.Fatal(err)
	}
}

// accessible runs axe-core on the page and fails the test on any violation.
func (b *browser) accessible(name string) {
	b.t.Helper()
	path := os.Getenv("AXE_JS")
	if path == "" {
		b.t.Fatal("AXE_JS is not set: run through make test, which fetches axe-core (hack/axe.sh)")
	}
	source, err := os.ReadFile(path) //nolint:gosec // the cached axe-core
	if err != nil {
		b.t.Fatal(err)
	}
	b.do(chromedp.Evaluate[chromedp.Void](string(source)))
	violations := read(b, chromedp.Evaluate[[]string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => r.violations.map(v => v.id + " (" + v.impact + "): " + v.help + " at " + v.nodes.map(n => n.target.join(" ")).join(", ")))`,
		chromedp.EvalAwaitPromise))
	if len(violations) > 0 {
		b.t.Errorf("%s: accessibility violations:\n%s", name, strings.Join(violations, "\n"))
	}
}

func jsString(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

// An admin sets up an organization in the wizard, in a real browser, end to end: SSO against a
// live OIDC provider, SCIM provisioning, the token shown once, the self-test against the live
// endpoint, a replayed Okta run, status and logs, and approving a pending member. Someone with no
// rights in the namespace sees nothing of it.
func TestWizardInBrowser(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	sys := start(t)
	By := func(s string) { t.Log(s) }
	oidc := localidp.New()
	t.Cleanup(oidc.Close)

	By("a platform admin gives alice the admin role in namespace globex, which has a role template")
	sys.kubectl(t, "create", "namespace", "globex")
	sys.kubectl(t, "apply", "-f", filepath.Join("..", "..", "config", "rbac", "admin_role.yaml"))
	sys.kubectl(t, "-n", "globex", "create", "rolebinding", "alice-admin", "--clusterrole=admin", "--user=alice")
	sys.kubectl(t, "-n", "globex", "create", "rolebinding", "alice-identity", "--clusterrole=admin-role", "--user=alice")
	g.Expect(sys.k8s.Create(sys.ctx, &v1alpha1.RoleTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "globex", Name: "engineer"},
		Spec: v1alpha1.RoleTemplateSpec{DisplayName: "Engineer", Permissions: []string{"projects:write"}}})).To(Succeed())

	wizard := sys.baseURL + "/settings/enterprise/identity-setup"
	org := wizard + "/globex/globex"
	alice := newBrowser(t, "alice")

	By("alice opens the wizard as the product guide says, from Settings → Enterprise → Enterprise Identity Setup")
	alice.do(chromedp.Navigate(sys.baseURL+"/settings"), chromedp.WaitVisible(chromedp.CSS("h1")))
	alice.accessible("settings")
	alice.do(chromedp.Click(chromedp.CSS(`main a[href="/settings/enterprise"]`)), chromedp.WaitVisible(chromedp.CSS(`main a[href="/settings/enterprise/identity-setup"]`)))
	g.Expect(alice.text()).To(ContainSubstring("Enterprise Identity Setup"))
	alice.do(chromedp.Click(chromedp.CSS(`main a[href="/settings/enterprise/identity-setup"]`)), chromedp.WaitVisible(chromedp.CSS("h1")))
	g.Expect(alice.text()).To(ContainSubstring("No organizations to administer"))

	By("nothing to administer yet; keyboard users land on the skip link first")
	alice.do(chromedp.Navigate(wizard), chromedp.WaitVisible(chromedp.CSS("h1")), chromedp.KeyEvent(kb.Tab))
	g.Expect(alice.text()).To(ContainSubstring("No organizations to administer"))
	focused := read(alice, chromedp.Evaluate[string](`document.activeElement.textContent`))
	g.Expect(focused).To(Equal("Skip to content"))

	By("step 1: she sets up SSO with OIDC; the client secret goes into a Secret")
	alice.do(chromedp.Click(chromedp.CSS(`a[href$="/new"]`)), chromedp.WaitVisible(chromedp.CSS("#namespace")),
		chromedp.SendKeys(chromedp.CSS("#namespace"), "globex"),
		chromedp.SendKeys(chromedp.CSS("#organization"), "globex"),
		chromedp.SendKeys(chromedp.CSS("#displayName"), "Globex Corporation"),
		chromedp.SendKeys(chromedp.CSS("#domains"), "globex.example"),
		chromedp.Click(chromedp.CSS("#protocol-oidc")),
		chromedp.SendKeys(chromedp.CSS("#issuerURL"), oidc.URL()),
		chromedp.SendKeys(chromedp.CSS("#clientID"), "globex-wizard"),
		chromedp.SendKeys(chromedp.CSS("#clientSecret"), "s3cret-client-value"))
	samlHidden := read(alice, chromedp.Evaluate[bool](`document.getElementById('saml').hidden`))
	g.Expect(samlHidden).To(BeTrue(), "the SAML fields hide while OIDC is chosen")
	alice.screenshot("wizard-1-sso-form")
	alice.do(chromedp.Click(chromedp.CSS(`button[type="submit"]:not(.link)`)))
	alice.waitForText("Single sign-on: validated")
	alice.waitForText("OIDC issuer found")
	alice.screenshot("wizard-1-sso-validated")
	eid := &v1alpha1.EnterpriseIdentity{}
	g.Expect(sys.k8s.Get(sys.ctx, key("globex", "globex"), eid)).To(Succeed())
	g.Expect(eid.Spec.SSO.OIDC.ClientSecretRef.Name).To(Equal("globex-oidc-client"))
	g.Expect(sys.kubectl(t, "-n", "globex", "get", "eid", "globex", "-o", "yaml")).NotTo(ContainSubstring("s3cret-client-value"))
	g.Expect(sys.kubectl(t, "-n", "globex", "get", "secret", "globex-oidc-client", "-o", "jsonpath={.metadata.labels}")).To(ContainSubstring("wizard"))

	By("step 2: SCIM provisioning with review before activation and the engineer role")
	alice.do(chromedp.Navigate(org+"/provisioning"), chromedp.WaitVisible(chromedp.CSS("#autoActivate")),
		chromedp.Click(chromedp.CSS("#autoActivate")),
		chromedp.SetValue(chromedp.CSS("#defaultRoleTemplate"), "engineer"),
		chromedp.SetValue(chromedp.CSS("#onDeactivate"), "Suspend"),
		chromedp.SetValue(chromedp.CSS("#onDelete"), "Deactivate"))
	alice.screenshot("wizard-2-provisioning")
	alice.do(chromedp.Click(chromedp.CSS(`form[action$="/provisioning"] button[type="submit"]`)))
	alice.waitForText("SCIM provisioning ready: yes")
	scim := &v1alpha1.ScimIntegration{}
	g.Expect(sys.k8s.Get(sys.ctx, key("globex", "globex"), scim)).To(Succeed())
	g.Expect(*scim.Spec.Provisioning.AutoActivate).To(BeFalse())
	g.Expect(scim.Spec.Provisioning.DefaultRoleTemplate).To(Equal("engineer"))

	By("writes are made as the signed-in person: a viewer's save is refused by Kubernetes RBAC")
	sys.kubectl(t, "apply", "-f", filepath.Join("..", "..", "config", "rbac", "viewer_role.yaml"))
	sys.kubectl(t, "-n", "globex", "create", "rolebinding", "victor-view", "--clusterrole=viewer-role", "--user=victor")
	victor := newBrowser(t, "victor")
	victor.do(chromedp.Navigate(org+"/provisioning"), chromedp.WaitVisible(chromedp.CSS("#autoActivate")),
		chromedp.Click(chromedp.CSS("#autoActivate")), chromedp.Click(chromedp.CSS(`form[action$="/provisioning"] button[type="submit"]`)))
	victor.waitForText("Kubernetes RBAC does not let victor write ScimIntegration globex in namespace globex")
	g.Expect(sys.k8s.Get(sys.ctx, key("globex", "globex"), scim)).To(Succeed())
	g.Expect(*scim.Spec.Provisioning.AutoActivate).To(BeFalse(), "the manager did not write on the viewer's behalf")

	By("step 3: credentials; the token is shown once, with copy buttons")
	alice.do(chromedp.Navigate(org + "/credentials"))
	alice.waitForText("Reveal token (shown once)")
	alice.do(chromedp.Click(chromedp.CSS(`form[action$="/credentials/reveal"] button`)), chromedp.WaitVisible(chromedp.CSS("#scim-token")))
	tok := read(alice, chromedp.Value(chromedp.CSS("#scim-token")))
	baseURL := read(alice, chromedp.Value(chromedp.CSS("#scim-base-url")))
	alice.do(chromedp.Click(chromedp.CSS(`button[data-copy="scim-token"]`)))
	copied := read(alice, chromedp.Poll[string](`(t => t === "Copied" && t)(document.querySelector('button[data-copy="scim-token"]').textContent)`,
		chromedp.WithPollingTimeout(10*time.Second)))
	g.Expect(tok).To(HavePrefix("eio_scim_"))
	g.Expect(baseURL).To(Equal(sys.baseURL + "/scim/v2/globex"))
	g.Expect(copied).To(Equal("Copied"))
	// The documentation's screenshot must not carry even a test token.
	alice.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('scim-token').value = 'eio_scim_…(shown once)'`))
	alice.screenshot("wizard-3-credentials-token")
	alice.do(chromedp.Navigate(org + "/credentials"))
	alice.waitForText("Already revealed")
	g.Expect(alice.text()).NotTo(ContainSubstring(tok))
	alice.screenshot("wizard-3-credentials-revealed")

	By("step 4: the compatibility self-test reports a wrong token as an identity provider would meet it")
	alice.do(chromedp.Navigate(org+"/connect"), chromedp.WaitVisible(chromedp.CSS("#selftest-token")),
		chromedp.SendKeys(chromedp.CSS("#selftest-token"), "eio_scim_not-the-token"),
		chromedp.Click(chromedp.CSS(`form[action$="/self-test"] button`)), chromedp.WaitVisible(chromedp.CSS("#selftest-result")))
	g.Expect(alice.text()).To(SatisfyAll(ContainSubstring("Some checks failed"), ContainSubstring("answered 401, an identity provider expects 200"),
		ContainSubstring("Skipped")))

	By("with the right token, the self-test passes against the live endpoint")
	alice.do(chromedp.Navigate(org+"/connect"), chromedp.WaitVisible(chromedp.CSS("#selftest-token")),
		chromedp.SendKeys(chromedp.CSS("#selftest-token"), tok),
		chromedp.Click(chromedp.CSS(`form[action$="/self-test"] button`)), chromedp.WaitVisible(chromedp.CSS("#selftest-result")))
	page := alice.text()
	g.Expect(page).To(ContainSubstring("All checks passed"), page)
	g.Expect(strings.Count(page, "Passed:")).To(Equal(10))
	g.Expect(page).To(SatisfyAll(ContainSubstring("Okta"), ContainSubstring("Microsoft Entra ID"), ContainSubstring("OneLogin"),
		ContainSubstring("JumpCloud"), ContainSubstring("Google Workspace"), ContainSubstring(baseURL)))
	alice.screenshot("wizard-4-connect-self-test")

	alice.do(chromedp.Navigate(org+"/status"), chromedp.WaitVisible(chromedp.CSS("#refresh")))
	g.Expect(alice.text()).To(ContainSubstring("EnterpriseIdentityOperator-SelfTest"))

	By("Okta provisions over HTTP, as its recorded run does")
	idp.Run(t, "okta.json", func(method, path string, body any, headers map[string]string, wrongToken bool) idp.Response {
		var reader io.Reader
		if s, ok := body.(string); ok {
			reader = strings.NewReader(s)
		}
		req, _ := http.NewRequestWithContext(sys.ctx, method, baseURL+path, reader)
		bearer := tok
		if wrongToken {
			bearer = "eio_scim_wrong"
		}
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Content-Type", "application/scim+json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		raw, _ := io.ReadAll(resp.Body)
		out := idp.Response{Status: resp.StatusCode, Raw: string(raw)}
		_ = json.Unmarshal(raw, &out.Body)
		return out
	})

	By("step 5: refresh shows the last request, member counts and the audit log, filterable")
	alice.do(chromedp.Click(chromedp.CSS("#refresh")))
	alice.waitForText("Okta SCIM Client 1.0.0")
	// Refusals reach the audit log in batches (within about 100 ms): refresh until the 409 shows.
	g.Eventually(func() string {
		alice.do(chromedp.Click(chromedp.CSS("#refresh")))
		alice.waitFor(`document.readyState === "complete" && document.getElementById("audit-events") !== null`)
		return alice.text()
	}).Should(ContainSubstring("uniqueness"))
	page = alice.text()
	g.Expect(page).To(SatisfyAll(ContainSubstring("Okta SCIM Client 1.0.0"), MatchRegexp(`Pending review: \d`), ContainSubstring("user.create"),
		ContainSubstring("uniqueness")), page)
	g.Expect(page).NotTo(ContainSubstring(tok))
	alice.screenshot("wizard-5-status")
	alice.do(chromedp.SetValue(chromedp.CSS("#outcome"), "failure"), chromedp.Click(chromedp.CSS(`form.filters button`)))
	alice.waitForURL("outcome=failure")
	rows := read(alice, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#audit-events tbody tr td:nth-child(4)')].map(td => td.innerText)`))
	g.Expect(rows).NotTo(BeEmpty())
	for _, r := range rows {
		g.Expect(r).To(MatchRegexp(`^[45]\d\d`), "only failures after filtering")
	}

	By("older audit events are a page away")
	alice.do(chromedp.Navigate(org+"/status"), chromedp.Click(chromedp.CSS("#older")))
	alice.waitForURL("cursor=")
	g.Expect(alice.text()).To(ContainSubstring("Newest"))

	By("step 6: members, searched, then filtered to those pending review; alice approves one")
	alice.do(chromedp.Navigate(org+"/members"), chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), "self-test"), chromedp.Click(chromedp.CSS(`form.filters button`)))
	alice.waitForURL("q=self-test")
	page = alice.text()
	g.Expect(page).To(SatisfyAll(ContainSubstring("eio-self-test-"), Not(ContainSubstring("test.user@okta.local"))))
	alice.do(chromedp.Navigate(org+"/members"), chromedp.WaitVisible(chromedp.CSS("#state")),
		chromedp.SetValue(chromedp.CSS("#state"), "PendingReview"), chromedp.Click(chromedp.CSS(`form.filters button`)))
	alice.waitForURL("state=PendingReview")
	g.Expect(alice.text()).To(ContainSubstring("test.user@okta.local"))
	alice.screenshot("wizard-6-members")
	alice.do(chromedp.Click(chromedp.CSS(`#members a`)))
	alice.waitFor(`document.getElementById("member-state") !== null`)
	g.Expect(alice.text()).To(SatisfyAll(ContainSubstring("Pending review"), ContainSubstring("Employee record")))
	alice.do(chromedp.Click(chromedp.CSS(`form[action$="/approve"] button`)))
	alice.waitForText("Approved: the member is active")
	state := read(alice, chromedp.Text(chromedp.CSS("#member-state")))
	g.Expect(state).To(Equal("Active"))
	g.Expect(alice.text()).To(ContainSubstring("Pending review → Active"))
	alice.screenshot("wizard-6-member-approved")

	By("on a narrow screen (400% zoom of 1280 px) nothing scrolls sideways")
	alice.do(chromedp.EmulateViewport(320, 800), chromedp.Navigate(org+"/status"), chromedp.WaitVisible(chromedp.CSS("#audit-events")))
	fits := read(alice, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= document.documentElement.clientWidth`))
	g.Expect(fits).To(BeTrue())
	alice.screenshot("wizard-narrow-status")
	alice.do(chromedp.EmulateViewport(1280, 900))

	By("SAML: the metadata's signing certificate and its expiry are shown once validated")
	alice.do(chromedp.Navigate(wizard+"/new"), chromedp.WaitVisible(chromedp.CSS("#namespace")),
		chromedp.SendKeys(chromedp.CSS("#namespace"), "globex"), chromedp.SendKeys(chromedp.CSS("#organization"), "umbrella"),
		chromedp.Click(chromedp.CSS("#protocol-saml")), chromedp.SendKeys(chromedp.CSS("#metadataURL"), oidc.MetadataURL()),
		chromedp.Click(chromedp.CSS(`form.card button[type="submit"]`)))
	alice.waitForText("Single sign-on: validated")
	alice.waitForText("SAML signing certificate valid until ") // a year from now (test/localidp)
	g.Expect(alice.text()).To(MatchRegexp(`SAML signing certificate valid until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`))
	g.Expect(read(alice, chromedp.Evaluate[bool](`document.getElementById('oidc').hidden`))).To(BeTrue(), "the OIDC fields hide for SAML")

	By("an SSO setup that cannot work says why, in the page, and SCIM waits for it")
	alice.do(chromedp.Navigate(wizard+"/new"), chromedp.WaitVisible(chromedp.CSS("#namespace")),
		chromedp.SendKeys(chromedp.CSS("#namespace"), "globex"), chromedp.SendKeys(chromedp.CSS("#organization"), "hooli"),
		chromedp.Click(chromedp.CSS("#protocol-oidc")), chromedp.SendKeys(chromedp.CSS("#issuerURL"), "http://127.0.0.1:9/"),
		chromedp.SendKeys(chromedp.CSS("#clientID"), "hooli"), chromedp.SendKeys(chromedp.CSS("#clientSecret"), "x"),
		chromedp.Click(chromedp.CSS(`form.card button[type="submit"]`)))
	alice.waitForText("Single sign-on: needs attention")
	g.Expect(alice.text()).To(ContainSubstring("127.0.0.1:9"), "the reason names what failed")
	alice.screenshot("wizard-1-sso-failed")
	alice.do(chromedp.Navigate(wizard+"/globex/hooli/provisioning"), chromedp.WaitVisible(chromedp.CSS("h1")))
	g.Expect(alice.text()).To(ContainSubstring("Single sign-on comes first"))

	By("a Secret the wizard did not write is never changed")
	sys.kubectl(t, "-n", "globex", "create", "secret", "generic", "initech-oidc-client", "--from-literal=client-secret=from-git")
	alice.do(chromedp.Navigate(wizard+"/new"), chromedp.WaitVisible(chromedp.CSS("#namespace")),
		chromedp.SendKeys(chromedp.CSS("#namespace"), "globex"), chromedp.SendKeys(chromedp.CSS("#organization"), "initech"),
		chromedp.Click(chromedp.CSS("#protocol-oidc")), chromedp.SendKeys(chromedp.CSS("#issuerURL"), oidc.URL()),
		chromedp.SendKeys(chromedp.CSS("#clientID"), "initech"), chromedp.SendKeys(chromedp.CSS("#clientSecret"), "overwrite?"),
		chromedp.Click(chromedp.CSS(`form.card button[type="submit"]`)))
	alice.waitForText("was not written by this wizard")
	g.Expect(decodeBase64(t, sys.kubectl(t, "-n", "globex", "get", "secret", "initech-oidc-client", "-o", "jsonpath={.data.client-secret}"))).To(Equal("from-git"))
	g.Expect(sys.k8s.Get(sys.ctx, key("globex", "initech"), &v1alpha1.EnterpriseIdentity{})).NotTo(Succeed(), "nothing was created")

	By("a second EnterpriseIdentity claiming the name globex never shows globex's data")
	copyEID := eid.DeepCopy()
	copyEID.ObjectMeta = metav1.ObjectMeta{Namespace: "globex", Name: "globex-copy"}
	g.Expect(sys.k8s.Create(sys.ctx, copyEID)).To(Succeed())
	g.Expect(sys.k8s.Create(sys.ctx, &v1alpha1.ScimIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: "globex", Name: "globex-copy"},
		Spec: v1alpha1.ScimIntegrationSpec{IdentityRef: v1alpha1.LocalRef{Name: "globex-copy"}}})).To(Succeed())
	for _, p := range []string{"/members", "/status", "/members/" + "x"} {
		alice.do(chromedp.Navigate(wizard+"/globex/globex-copy"+p), chromedp.WaitVisible(chromedp.CSS("h1")))
		g.Expect(alice.text()).NotTo(SatisfyAny(ContainSubstring("test.user"), ContainSubstring("Okta SCIM Client")))
	}

	By("the organizations page shows where globex stands")
	alice.do(chromedp.Navigate(wizard), chromedp.WaitVisible(chromedp.CSS("table")))
	g.Expect(alice.text()).To(SatisfyAll(ContainSubstring("Globex Corporation"), ContainSubstring("Active: 1")))
	alice.screenshot("wizard-0-organizations")

	By("rotating issues a new token, revealable once it is ready, while the old one keeps working")
	alice.do(chromedp.Navigate(org+"/credentials"), chromedp.Click(chromedp.CSS(`form[action$="/credentials/rotate"] button`)))
	alice.waitForText("Rotation 1 requested")
	alice.waitForText("Reveal token (shown once)")
	alice.do(chromedp.Click(chromedp.CSS(`form[action$="/credentials/reveal"] button`)), chromedp.WaitVisible(chromedp.CSS("#scim-token")))
	rotated := read(alice, chromedp.Value(chromedp.CSS("#scim-token")))
	g.Expect(rotated).To(SatisfyAll(HavePrefix("eio_scim_"), Not(Equal(tok))))
	for _, bearer := range []string{tok, rotated} {
		status, _ := call(t, "GET", baseURL+"/Users?count=1", bearer, "")
		g.Expect(status).To(Equal(http.StatusOK))
	}

	By("a deprovisioning held by the mass-deprovisioning guard is released from the status page")
	sys.kubectl(t, "-n", "globex", "patch", "scim", "globex", "--type", "merge", "-p", `{"spec":{"provisioning":{"deprovision":{"maxPerHour":1}}}}`)
	g.Eventually(func() bool { // the operator (and so the data plane's cache) has the new policy
		_ = sys.k8s.Get(sys.ctx, key("globex", "globex"), scim)
		c := meta.FindStatusCondition(scim.Status.Conditions, v1alpha1.ConditionPolicyReady)
		return c != nil && c.ObservedGeneration == scim.Generation
	}).Should(BeTrue())
	g.Eventually(func() int {
		status, _ := call(t, "POST", baseURL+"/Users", rotated, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"leaver@globex.example"}`)
		return status
	}).Should(Equal(http.StatusCreated))
	alice.do(chromedp.Navigate(org+"/members?q=leaver"), chromedp.WaitVisible(chromedp.CSS("#members a")))
	href := read(alice, chromedp.Evaluate[string](`document.querySelector("#members a").getAttribute("href")`))
	leaver := href[strings.LastIndex(href, "/")+1:]
	// This hour already saw the Okta run's and the self-test's deprovisionings: this one is held.
	status, _ := call(t, "DELETE", baseURL+"/Users/"+leaver, rotated, "")
	g.Expect(status).To(Equal(http.StatusNoContent))
	alice.do(chromedp.Navigate(org + "/status"))
	g.Expect(alice.text()).To(ContainSubstring("Release held deprovisionings"))
	alice.do(chromedp.Click(chromedp.CSS(`form[action$="/deprovisioning/release"] button`)))
	alice.waitForText("Released 1 held deprovisioning")
	alice.do(chromedp.Navigate(org + "/members/" + leaver))
	g.Expect(alice.text()).To(ContainSubstring("deleted by the identity provider"))

	By("mallory, with no rights in globex, sees nothing of it, even by URL")
	mallory := newBrowser(t, "mallory")
	mallory.do(chromedp.Navigate(wizard), chromedp.WaitVisible(chromedp.CSS("h1")))
	g.Expect(mallory.text()).To(SatisfyAll(ContainSubstring("No organizations to administer"), Not(ContainSubstring("Globex"))))
	for _, p := range []string{"/sso", "/status", "/members", "/credentials"} {
		mallory.do(chromedp.Navigate(org+p), chromedp.WaitVisible(chromedp.CSS("h1")))
		g.Expect(mallory.text()).To(SatisfyAll(ContainSubstring("No such organization, or you do not administer it"),
			Not(ContainSubstring("Globex")), Not(ContainSubstring("test.user"))))
	}

	By("carol signs in with a service-account token on the sign-in form")
	sys.kubectl(t, "-n", "globex", "create", "serviceaccount", "carol")
	sys.kubectl(t, "-n", "globex", "create", "rolebinding", "carol-identity", "--clusterrole=admin-role", "--serviceaccount=globex:carol")
	carolToken := strings.TrimSpace(sys.kubectl(t, "-n", "globex", "create", "token", "carol"))
	carol := newBrowser(t, "")
	carol.do(chromedp.Navigate(wizard), chromedp.WaitVisible(chromedp.CSS("#token")))
	carol.screenshot("wizard-sign-in")
	carol.do(chromedp.SendKeys(chromedp.CSS("#token"), carolToken), chromedp.Submit(chromedp.CSS("#token")), chromedp.WaitVisible(chromedp.CSS("#user")))
	g.Expect(carol.text()).To(SatisfyAll(ContainSubstring("system:serviceaccount:globex:carol"), ContainSubstring("Globex Corporation")))
	g.Expect(alice.text()).NotTo(ContainSubstring("Sign out"), "behind the proxy there is no session to end")
	carol.do(chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.Navigate(org+"/members"), chromedp.WaitVisible(chromedp.CSS("#token")))
	g.Expect(carol.text()).NotTo(ContainSubstring("Globex"), "signed out: the sign-in form again, nothing of globex")

	By("forms refuse posts without the session's CSRF token, and cross-site posts")
	post := func(headers map[string]string, form url.Values) int {
		req, _ := http.NewRequestWithContext(sys.ctx, "POST", org+"/credentials/rotate", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Remote-User", "alice")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	g.Expect(post(nil, url.Values{"csrf": {"forged"}})).To(Equal(http.StatusForbidden))
	g.Expect(post(map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, nil)).To(Equal(http.StatusForbidden))
	g.Expect(sys.k8s.Get(sys.ctx, key("globex", "globex"), scim)).To(Succeed())
	g.Expect(scim.Annotations[v1alpha1.AnnotationRotateToken]).To(Equal("1"), "no forged post rotated the token again")
	g.Expect(scim.Spec.Token.Rotation).To(BeZero(), "rotating from the wizard leaves the spec to whoever manages it")
}

func key(namespace, name string) types.NamespacedName {
	return types.NamespacedName{Namespace: namespace, Name: name}
}
