package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// An admin edits the group → role mappings in the wizard (add, reorder, remove), the identity
// provider then puts a member in mapped groups over SCIM, and the Members page shows the member's
// role follow, with its permissions, groups and emails. Once Git holds the mappings, the wizard
// changes nothing and says what to commit instead.
func TestWizardEditsGroupRoles(t *testing.T) {
	g := patient(t)
	sys := start(t)
	By := func(s string) { t.Log(s) }
	acme := types.NamespacedName{Namespace: "acme", Name: "acme"}

	By("acme from Git (Argo CD), two more roles, and alice as the namespace's admin")
	samples := filepath.Join("..", "..", "config", "samples")
	argoApply(t, sys, "-k", samples)
	sys.kubectl(t, "apply", "-f", filepath.Join("..", "..", "config", "rbac", "admin_role.yaml"))
	sys.kubectl(t, "-n", "acme", "create", "rolebinding", "alice-admin", "--clusterrole=admin", "--user=alice")
	sys.kubectl(t, "-n", "acme", "create", "rolebinding", "alice-identity", "--clusterrole=admin-role", "--user=alice")
	for _, rt := range []*v1alpha1.RoleTemplate{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "engineer"},
			Spec: v1alpha1.RoleTemplateSpec{DisplayName: "Engineer", Permissions: []string{"projects:write", "deploy:staging"}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "admin"},
			Spec: v1alpha1.RoleTemplateSpec{DisplayName: "Administrator", Permissions: []string{"org:admin"}}},
	} {
		g.Expect(sys.k8s.Create(sys.ctx, rt)).To(Succeed())
	}
	g.Eventually(readyReason(sys, acme)).Should(Equal("True/Ready"))
	tok := readToken(g, sys, acme)
	baseURL := getScim(g, sys, acme).Status.BaseURL

	org := sys.baseURL + "/settings/enterprise/identity-setup/acme/acme"
	alice := newBrowser(t, "alice")
	mappings := func() string {
		scim := getScim(g, sys, acme)
		out := make([]string, 0, len(scim.Spec.Provisioning.GroupRoles))
		for _, m := range scim.Spec.Provisioning.GroupRoles {
			out = append(out, m.Group+"="+m.RoleTemplate)
		}
		return strings.Join(out, ",")
	}
	// settled waits until the operator has seen the ScimIntegration's last change (and so the data
	// plane has its policy), then opens the provisioning page afresh.
	settled := func() {
		t.Helper()
		g.Eventually(func() bool {
			scim := getScim(g, sys, acme)
			for _, c := range scim.Status.Conditions {
				if c.Type == v1alpha1.ConditionPolicyReady {
					return c.ObservedGeneration == scim.Generation
				}
			}
			return false
		}).Should(BeTrue())
		alice.do(chromedp.Navigate(org+"/provisioning"), chromedp.WaitVisible(chromedp.CSS("#group-roles")))
		alice.waitForText("SCIM provisioning ready: yes")
	}
	save := func() {
		t.Helper()
		alice.do(chromedp.Click(chromedp.CSS(`form[action$="/provisioning"] button[type="submit"]`)))
		alice.waitForURL("saved=1")
	}

	By("no mappings yet: she adds Admins → Administrator")
	settled()
	g.Expect(alice.text()).To(ContainSubstring("No group roles yet"))
	alice.do(chromedp.SendKeys(chromedp.CSS("#groupRoles-new-group"), "Admins"),
		chromedp.SetValue(chromedp.CSS("#groupRoles-new-roleTemplate"), "admin"))
	save()
	g.Expect(mappings()).To(Equal("Admins=admin"))

	By("Engineering → Engineer, placed first; then Contractors → Member at the end")
	settled()
	alice.do(chromedp.SendKeys(chromedp.CSS("#groupRoles-new-position"), "1"),
		chromedp.SendKeys(chromedp.CSS("#groupRoles-new-group"), "Engineering"),
		chromedp.SetValue(chromedp.CSS("#groupRoles-new-roleTemplate"), "engineer"))
	save()
	g.Expect(mappings()).To(Equal("Engineering=engineer,Admins=admin"))
	settled()
	alice.do(chromedp.SendKeys(chromedp.CSS("#groupRoles-new-group"), "Contractors"),
		chromedp.SetValue(chromedp.CSS("#groupRoles-new-roleTemplate"), "member"))
	save()
	g.Expect(mappings()).To(Equal("Engineering=engineer,Admins=admin,Contractors=member"))

	By("she moves Admins to the top and removes Contractors")
	settled()
	g.Expect(read(alice, chromedp.Value(chromedp.CSS("#groupRoles-1-group")))).To(Equal("Admins"))
	alice.do(chromedp.SetValue(chromedp.CSS("#groupRoles-1-position"), "1"), chromedp.Click(chromedp.CSS("#groupRoles-2-remove")))
	alice.screenshot("wizard-2-group-roles")
	save()
	g.Expect(mappings()).To(Equal("Admins=admin,Engineering=engineer"))

	By("a mapping without a role is refused with the reason, and nothing is written")
	settled()
	alice.do(chromedp.SendKeys(chromedp.CSS("#groupRoles-new-group"), "Sales"),
		chromedp.Click(chromedp.CSS(`form[action$="/provisioning"] button[type="submit"]`)))
	alice.waitForText("New mapping: choose the role members of Sales get.")
	g.Expect(mappings()).To(Equal("Admins=admin,Engineering=engineer"))

	By("the identity provider provisions ada: the default role, her emails and name")
	settled()
	var ada string
	g.Eventually(func() int {
		status, body := call(t, "POST", baseURL+"/Users", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"userName":"ada@acme.example","name":{"givenName":"Ada","familyName":"Lovelace"},
			"emails":[{"value":"ada@acme.example","type":"work","primary":true}]}`)
		var created map[string]any
		_ = json.Unmarshal([]byte(body), &created)
		ada, _ = created["id"].(string)
		return status
	}).Should(Equal(http.StatusCreated))
	memberPage := func() {
		t.Helper()
		alice.do(chromedp.Navigate(org+"/members/"+ada), chromedp.WaitVisible(chromedp.CSS("#member-role")))
	}
	memberPage()
	g.Expect(read(alice, chromedp.Text(chromedp.CSS("#member-role")))).To(Equal("Member (member)"))
	g.Expect(read(alice, chromedp.Text(chromedp.CSS("#member-permissions")))).To(Equal("projects:read, profile:write"))
	g.Expect(read(alice, chromedp.Text(chromedp.CSS("#member-emails")))).To(ContainSubstring("ada@acme.example"))
	g.Expect(read(alice, chromedp.Text(chromedp.CSS("#member-name")))).To(Equal("Ada Lovelace"))

	By("she joins Engineering in the identity provider: Engineer, with its permissions")
	status, body := call(t, "POST", baseURL+"/Groups", tok,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[{"value":"`+ada+`"}]}`)
	g.Expect(status).To(Equal(http.StatusCreated), body)
	memberPage()
	g.Expect(read(alice, chromedp.Text(chromedp.CSS("#member-role")))).To(Equal("Engineer (engineer)"))
	g.Expect(read(alice, chromedp.Text(chromedp.CSS("#member-permissions")))).To(Equal("projects:write, deploy:staging"))
	g.Expect(read(alice, chromedp.Text(chromedp.CSS("#member-groups")))).To(Equal("Engineering"))

	By("she joins Admins too: Admins is listed first, so she is an Administrator")
	status, body = call(t, "POST", baseURL+"/Groups", tok,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Admins","members":[{"value":"`+ada+`"}]}`)
	g.Expect(status).To(Equal(http.StatusCreated), body)
	alice.do(chromedp.Navigate(org+"/members?q=ada"), chromedp.WaitVisible(chromedp.CSS("#members")))
	row := read(alice, chromedp.Text(chromedp.CSS("#members tbody tr")))
	g.Expect(row).To(SatisfyAll(ContainSubstring("ada@acme.example"), ContainSubstring("Ada Lovelace"), ContainSubstring("Administrator (admin)"),
		ContainSubstring("org:admin"), ContainSubstring("Engineering, Admins")))
	alice.screenshot("wizard-6-members-roles")

	By("Git takes the mappings over: the wizard refuses to change them and says what to commit")
	manifest := readFile(t, filepath.Join(samples, "enterprise_v1alpha1_scimintegration.yaml"))
	manifest = strings.Replace(manifest, "    defaultRoleTemplate: member\n",
		"    defaultRoleTemplate: member\n    groupRoles:\n      - {group: Admins, roleTemplate: admin}\n", 1)
	argoApply(t, sys, "-f", writeTemp(t, manifest))
	g.Expect(mappings()).To(Equal("Admins=admin"))
	settled()
	g.Expect(alice.text()).To(ContainSubstring("also managed by " + argoManager))
	alice.do(chromedp.SendKeys(chromedp.CSS("#groupRoles-new-group"), "Engineering"),
		chromedp.SetValue(chromedp.CSS("#groupRoles-new-roleTemplate"), "engineer"),
		chromedp.Click(chromedp.CSS(`form[action$="/provisioning"] button[type="submit"]`)))
	alice.waitForText("Nothing was saved")
	g.Expect(alice.text()).To(SatisfyAll(ContainSubstring("managed by "+argoManager),
		ContainSubstring(`spec.provisioning.groupRoles: [{"group":"Admins","roleTemplate":"admin"},{"group":"Engineering","roleTemplate":"engineer"}]`)))
	g.Expect(mappings()).To(Equal("Admins=admin"), "nothing was written")
	alice.accessible("group roles managed by Git")
}
