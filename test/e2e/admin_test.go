package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// The admin API behind an authenticating proxy: Kubernetes RBAC on the organization's namespace
// decides, through real SubjectAccessReviews.
func TestAdminAPIWithRBAC(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	sys := start(t)

	By := func(s string) { t.Log(s) }
	By("the sample organization, with review before activation")
	sys.kubectl(t, "apply", "-k", filepath.Join("..", "..", "config", "samples"))
	sys.kubectl(t, "-n", "acme", "patch", "scim", "acme", "--type", "merge", "-p", `{"spec":{"provisioning":{"autoActivate":false}}}`)
	scim := &v1alpha1.ScimIntegration{}
	key := types.NamespacedName{Namespace: "acme", Name: "acme"}
	g.Eventually(func() bool {
		_ = sys.k8s.Get(sys.ctx, key, scim)
		return meta.IsStatusConditionTrue(scim.Status.Conditions, v1alpha1.ConditionEndpointReady) && scim.Status.ObservedGeneration == scim.Generation
	}).Should(BeTrue())
	tok := strings.TrimSpace(sys.kubectl(t, "-n", "acme", "get", "secret", scim.Status.Token.SecretName, "-o", "jsonpath={.data.token}"))
	tok = decodeBase64(t, tok)

	By("an identity provider creates a user, who waits for review")
	var id string
	g.Eventually(func() int {
		status, body := call(t, "POST", scim.Status.BaseURL+"/Users", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"rev@acme.example"}`)
		if status == http.StatusCreated {
			var created map[string]any
			_ = json.Unmarshal([]byte(body), &created)
			id, _ = created["id"].(string)
		}
		return status
	}).Should(Equal(http.StatusCreated))

	By("RBAC: alice administers acme; bob may only read; mallory nothing")
	sys.kubectl(t, "create", "clusterrole", "scim-admin", "--verb=get,list,watch,update,patch", "--resource=scimintegrations.enterprise.z8z8.io,enterpriseidentities.enterprise.z8z8.io")
	sys.kubectl(t, "-n", "acme", "create", "rolebinding", "alice-admin", "--clusterrole=scim-admin", "--user=alice")
	sys.kubectl(t, "create", "clusterrole", "scim-view", "--verb=get,list,watch", "--resource=scimintegrations.enterprise.z8z8.io")
	sys.kubectl(t, "-n", "acme", "create", "rolebinding", "bob-scim-view", "--clusterrole=scim-view", "--user=bob")

	api := sys.baseURL + "/api/v1alpha1/organizations/acme"
	as := func(user, method, path string) (int, map[string]any) {
		req, _ := http.NewRequestWithContext(context.Background(), method, api+path, nil)
		if user != "" {
			req.Header.Set("X-Remote-User", user)
		}
		if method == http.MethodPost {
			req.Header.Set("X-EIO-Request", "1") // the proxy's identity is ambient: actions need it
		}
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		g.Expect(json.Unmarshal(b, &out)).To(Succeed(), string(b))
		return resp.StatusCode, out
	}

	status, _ := as("", "GET", "/status")
	g.Expect(status).To(Equal(http.StatusUnauthorized))
	status, body := as("mallory", "GET", "/members")
	g.Expect(status).To(Equal(http.StatusNotFound), "who may not see acme does not learn it exists")
	g.Expect(body["error"]).To(Equal("No such organization here, or you may not see it"))
	By("proxy headers cannot claim Kubernetes' own identities")
	withHeaders := func(h map[string]string) int {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", api+"/members", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	g.Expect(withHeaders(map[string]string{"X-Remote-User": "mallory", "X-Remote-Group": "system:masters"})).To(Equal(http.StatusNotFound))
	g.Expect(withHeaders(map[string]string{"X-Remote-User": "system:admin"})).To(Equal(http.StatusUnauthorized))
	status, _ = as("mallory", "GET", "/../../organizations/nope/status")
	g.Expect(status).To(Equal(http.StatusNotFound))

	status, body = as("bob", "GET", "/members?state=PendingReview")
	g.Expect(status).To(Equal(http.StatusOK), fmt.Sprint(body))
	g.Expect(body["items"]).To(HaveLen(1))
	status, _ = as("bob", "POST", "/members/"+id+"/approve")
	g.Expect(status).To(Equal(http.StatusForbidden), "reading is not approving")

	status, body = as("alice", "POST", "/members/"+id+"/approve")
	g.Expect(status).To(Equal(http.StatusOK), fmt.Sprint(body))
	g.Expect(body["state"]).To(Equal("Active"))

	status, body = as("alice", "GET", "/members/"+id)
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(body["history"]).To(HaveLen(2))
	status, body = as("alice", "GET", "/status")
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(body["members"]).To(HaveKeyWithValue("Active", 1.0))

	By("members carry their emails, name, groups and their role's permissions")
	var ada string
	g.Eventually(func() int {
		status, body := call(t, "POST", scim.Status.BaseURL+"/Users", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"userName":"ada@acme.example","name":{"givenName":"Ada","familyName":"Lovelace"},
			"emails":[{"value":"ada@acme.example","type":"work","primary":true},{"value":"ada@home.example","type":"home"}]}`)
		var created map[string]any
		_ = json.Unmarshal([]byte(body), &created)
		ada, _ = created["id"].(string)
		return status
	}).Should(Equal(http.StatusCreated))
	status, created := call(t, "POST", scim.Status.BaseURL+"/Groups", tok,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[{"value":"`+ada+`"}]}`)
	g.Expect(status).To(Equal(http.StatusCreated), created)
	status, body = as("bob", "GET", "/members/"+ada)
	g.Expect(status).To(Equal(http.StatusOK), fmt.Sprint(body))
	g.Expect(body).To(SatisfyAll(
		HaveKeyWithValue("name", And(HaveKeyWithValue("givenName", "Ada"), HaveKeyWithValue("familyName", "Lovelace"))),
		HaveKeyWithValue("emails", ConsistOf(
			And(HaveKeyWithValue("value", "ada@acme.example"), HaveKeyWithValue("type", "work"), HaveKeyWithValue("primary", true)),
			And(HaveKeyWithValue("value", "ada@home.example"), HaveKeyWithValue("type", "home")))),
		HaveKeyWithValue("groups", ConsistOf(HaveKeyWithValue("displayName", "Engineering"))),
		HaveKeyWithValue("role", "member"), HaveKeyWithValue("roleDisplayName", "Member"),
		HaveKeyWithValue("permissions", ConsistOf("projects:read", "profile:write")), HaveKeyWithValue("roleTemplateMissing", false),
		HaveKey("history")))
	status, body = as("bob", "GET", "/members?q=ada")
	g.Expect(status).To(Equal(http.StatusOK), fmt.Sprint(body))
	g.Expect(body["items"]).To(ConsistOf(SatisfyAll(HaveKeyWithValue("id", ada),
		HaveKeyWithValue("emails", ContainElement(HaveKeyWithValue("value", "ada@acme.example"))),
		HaveKeyWithValue("groups", ConsistOf(HaveKeyWithValue("displayName", "Engineering"))),
		HaveKeyWithValue("permissions", ConsistOf("projects:read", "profile:write")))))

	By("a role whose RoleTemplate is gone grants no permissions, and the member says so")
	sys.kubectl(t, "-n", "acme", "delete", "roletemplate", "member")
	g.Eventually(func() map[string]any {
		_, body := as("bob", "GET", "/members/"+ada)
		return body
	}).Should(SatisfyAll(HaveKeyWithValue("role", "member"), HaveKeyWithValue("roleTemplateMissing", true), HaveKeyWithValue("permissions", BeEmpty())))

	By("releasing held deprovisionings is an action")
	status, _ = as("bob", "POST", "/deprovisioning/release")
	g.Expect(status).To(Equal(http.StatusForbidden))
	status, body = as("alice", "POST", "/deprovisioning/release")
	g.Expect(status).To(Equal(http.StatusOK), fmt.Sprint(body))
	g.Expect(body).To(HaveKeyWithValue("released", 0.0))

	By("tokens: reading needs the Secret; rotate then reveal once")
	sys.kubectl(t, "create", "clusterrole", "token-reader", "--verb=get", "--resource=secrets")
	sys.kubectl(t, "-n", "acme", "create", "rolebinding", "alice-token", "--clusterrole=token-reader", "--user=alice")
	status, _ = as("bob", "POST", "/token/reveal")
	g.Expect(status).To(Equal(http.StatusForbidden))
	// The API server's RBAC takes the new binding in a moment (its authorizer watches bindings).
	g.Eventually(func() int { status, _ = as("alice", "POST", "/token/reveal"); return status }).
		Should(Equal(http.StatusGone), "the first SCIM request already acknowledged the sample's token")
	status, body = as("alice", "POST", "/token/rotate")
	g.Expect(status).To(Equal(http.StatusAccepted), fmt.Sprint(body))
	var revealed string
	g.Eventually(func() int {
		var st int
		st, body = as("alice", "POST", "/token/reveal")
		revealed, _ = body["token"].(string)
		return st
	}).Should(Equal(http.StatusOK))
	g.Expect(revealed).To(HavePrefix("eio_scim_"))
	g.Expect(revealed).NotTo(Equal(tok))
	status, _ = as("alice", "POST", "/token/reveal")
	g.Expect(status).To(Equal(http.StatusGone), "shown once")
	g.Eventually(func() int { s, _ := call(t, "GET", scim.Status.BaseURL+"/Users", revealed, ""); return s }).Should(Equal(http.StatusOK))

	By("a rotation after the request annotation was removed (kubectl replace, a GitOps tool) still rotates")
	sys.kubectl(t, "-n", "acme", "annotate", "scimintegration", "acme", v1alpha1.AnnotationRotateToken+"-")
	// 409 while the operator's view of the integration is older than the annotation's removal.
	g.Eventually(func() int { status, body = as("alice", "POST", "/token/rotate"); return status }).Should(Equal(http.StatusAccepted))
	var again string
	g.Eventually(func() int {
		var st int
		st, body = as("alice", "POST", "/token/reveal")
		again, _ = body["token"].(string)
		return st
	}).Should(Equal(http.StatusOK), "the request counted from the one the token answers, not from 1 again")
	g.Expect(again).NotTo(Equal(revealed))

	By("a Kubernetes bearer token signs in too (TokenReview), with the service account's RBAC")
	sys.kubectl(t, "-n", "acme", "create", "serviceaccount", "auditor")
	sys.kubectl(t, "-n", "acme", "create", "rolebinding", "auditor-view", "--clusterrole=scim-view", "--serviceaccount=acme:auditor")
	saToken := strings.TrimSpace(sys.kubectl(t, "-n", "acme", "create", "token", "auditor"))
	withToken := func(token, method, path string) int {
		req, _ := http.NewRequestWithContext(context.Background(), method, api+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	g.Expect(withToken(saToken, "GET", "/members")).To(Equal(http.StatusOK))
	g.Expect(withToken(saToken, "POST", "/members/"+id+"/reject")).To(Equal(http.StatusForbidden))
	g.Expect(withToken("not-a-token", "GET", "/members")).To(Equal(http.StatusUnauthorized))

	By("the wizard lists the organizations a person administers, with its security headers")
	page := func(user string) (int, string, http.Header) {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", sys.baseURL+"/settings/enterprise/identity-setup", nil)
		req.Header.Set("X-Remote-User", user)
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	var headers http.Header
	g.Eventually(func() string {
		var html string
		status, html, headers = page("alice")
		return fmt.Sprint(status, html)
	}).Should(SatisfyAll(HavePrefix("200"), ContainSubstring(`Signed in as <strong id="user">alice</strong>`), ContainSubstring("acme · namespace acme"),
		ContainSubstring("Active: 1")), "counts come from status, refreshed on reconcile")
	g.Expect(headers.Get("Content-Security-Policy")).To(ContainSubstring("frame-ancestors 'none'"))
	g.Expect(headers.Get("X-Frame-Options")).To(Equal("DENY"))
	status, html, _ := page("mallory")
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(html).To(SatisfyAll(ContainSubstring("No organizations to administer"), Not(ContainSubstring("namespace acme"))))

	By("the approval is in the audit log under the admin's name")
	status, body = as("alice", "GET", "/audit-events?limit=50")
	g.Expect(status).To(Equal(http.StatusOK))
	g.Expect(body["items"]).To(ContainElement(And(HaveKeyWithValue("action", "member.approve"), HaveKeyWithValue("client", "admin:alice"))))
	g.Expect(body["items"]).To(ContainElement(HaveKeyWithValue("action", "token.reveal")))
	raw, _ := json.Marshal(body)
	g.Expect(string(raw)).NotTo(ContainSubstring(revealed), "no token in the audit log")
}

func decodeBase64(t *testing.T, s string) string {
	t.Helper()
	out, err := base64Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
