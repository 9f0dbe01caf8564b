package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// receiver is an application receiving webhooks on loopback: it verifies each signature with the
// Standard Webhooks reference library, refuses the first failures requests, and keeps what it
// acknowledged.
type receiver struct {
	mu       sync.Mutex
	key      string
	failures int
	refused  int
	bad      int
	events   []map[string]any
	seen     map[string]int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	wh, err := standardwebhooks.NewWebhook(rc.key)
	if err != nil || wh.Verify(body, r.Header) != nil {
		rc.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if rc.refused < rc.failures {
		rc.refused++
		w.Header().Set("Retry-After", "1")
		http.Error(w, "not yet", http.StatusServiceUnavailable)
		return
	}
	var e map[string]any
	_ = json.Unmarshal(body, &e)
	id, _ := e["id"].(string)
	if rc.seen[id]++; rc.seen[id] == 1 {
		rc.events = append(rc.events, e)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) types() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]string, 0, len(rc.events))
	for _, e := range rc.events {
		out = append(out, e["type"].(string))
	}
	return out
}

// An application subscribes to acme's events: every lifecycle change arrives signed, in order,
// once acknowledged never again, after the receiver recovers from failing; the Events API serves
// the same events and long-polls for the next.
func TestEventsReachTheApplication(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(60 * time.Second)
	g.SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	sys := start(t)
	ctx, k8s := sys.ctx, sys.k8s
	sys.kubectl(t, "apply", "-k", filepath.Join("..", "..", "config", "samples"))
	scim := &v1alpha1.ScimIntegration{}
	g.Eventually(func() bool {
		_ = k8s.Get(ctx, types.NamespacedName{Namespace: "acme", Name: "acme"}, scim)
		return meta.IsStatusConditionTrue(scim.Status.Conditions, v1alpha1.ConditionEndpointReady)
	}).Should(BeTrue())
	secret := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, types.NamespacedName{Namespace: "acme", Name: scim.Status.Token.SecretName}, secret)).To(Succeed())
	tok := string(secret.Data["token"])

	t.Log("an application subscribes; its receiver fails the first three requests")
	rc := &receiver{failures: 3, seen: map[string]int{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	sub := &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "hr-app"},
		// A receiver that takes credentials in its URL's path (as webhook gateways do) and query:
		// the condition never repeats them.
		Spec: v1alpha1.EventSubscriptionSpec{URL: srv.URL + "/webhooks/path-s3cret?key=receiver-s3cret",
			Types: []string{"member.*", "membership.*", "group.*"}}}
	g.Expect(k8s.Create(ctx, sub)).To(Succeed())
	subKey := types.NamespacedName{Namespace: "acme", Name: "hr-app"}
	g.Eventually(func() bool {
		_ = k8s.Get(ctx, subKey, sub)
		return meta.IsStatusConditionTrue(sub.Status.Conditions, v1alpha1.ConditionReady) && sub.Status.SigningKey != nil
	}).Should(BeTrue())
	ready := meta.FindStatusCondition(sub.Status.Conditions, v1alpha1.ConditionReady)
	g.Expect(ready.Message).To(SatisfyAll(ContainSubstring(srv.URL+"/…"), Not(ContainSubstring("s3cret"))))
	keySecret := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, types.NamespacedName{Namespace: "acme", Name: sub.Status.SigningKey.SecretName}, keySecret)).To(Succeed())
	rc.mu.Lock()
	rc.key = string(keySecret.Data[v1alpha1.SecretKeySigningKey])
	rc.mu.Unlock()
	g.Expect(rc.key).To(HavePrefix("whsec_"))

	t.Log("the identity provider runs a lifecycle")
	base := scim.Status.BaseURL
	scimCall := func(method, path, body string, want int) map[string]any {
		status, out := call(t, method, base+path, tok, body)
		g.Expect(status).To(Equal(want), out)
		var m map[string]any
		_ = json.Unmarshal([]byte(out), &m)
		return m
	}
	user := scimCall("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.example",
		"name":{"givenName":"Ada","familyName":"Lovelace"},"emails":[{"value":"ada@acme.example","type":"work","primary":true}],"active":true}`,
		http.StatusCreated)
	id := user["id"].(string)
	patch := func(active bool) {
		scimCall("PATCH", "/Users/"+id, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"replace","path":"active","value":%v}]}`, active), http.StatusOK)
	}
	patch(false)
	patch(true)
	scimCall("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering",
		"members":[{"value":"`+id+`"}]}`, http.StatusCreated)
	scimCall("DELETE", "/Users/"+id, "", http.StatusNoContent)

	want := []string{"member.provisioned", "member.suspended", "member.reactivated", "group.created", "membership.added",
		"member.deactivated", "membership.removed"}
	g.Eventually(rc.types).Should(Equal(want))
	rc.mu.Lock()
	g.Expect(rc.bad).To(BeZero(), "every request verifies with the reference library")
	g.Expect(rc.refused).To(Equal(3))
	first := rc.events[0]
	var seq float64
	for i, e := range rc.events {
		g.Expect(e["organization"]).To(Equal("acme"))
		g.Expect(e["sequence"].(float64)).To(BeNumerically(">", seq), "in sequence order (event %d)", i)
		seq = e["sequence"].(float64)
	}
	for id, n := range rc.seen {
		g.Expect(n).To(Equal(1), "event %s acknowledged once and never sent again", id)
	}
	rc.mu.Unlock()
	member := first["data"].(map[string]any)["member"].(map[string]any)
	g.Expect(member["userName"]).To(Equal("ada@acme.example"))
	g.Expect(member["state"]).To(Equal("Active"))
	g.Expect(member["role"]).To(Equal("member"))
	g.Expect(member["permissions"]).To(ConsistOf("projects:read", "profile:write"), "from the sample RoleTemplate")
	g.Expect(member["emails"]).To(HaveLen(1))
	g.Expect(member["name"]).To(HaveKeyWithValue("givenName", "Ada"))
	g.Expect(first["actor"]).To(HaveKeyWithValue("type", "identityProvider"))
	g.Expect(fmt.Sprint(first)).NotTo(ContainSubstring(tok), "no token in an event")

	t.Log("status reports the delivery, and the failures were a Degraded spell with a Warning event")
	g.Eventually(func() bool {
		_ = k8s.Get(ctx, subKey, sub)
		d := sub.Status.Delivery
		return d != nil && d.LastDeliveredAt != nil && d.ConsecutiveFailures == 0 && d.LagSeconds == 0 &&
			meta.IsStatusConditionFalse(sub.Status.Conditions, v1alpha1.ConditionDegraded)
	}).Should(BeTrue())

	t.Log("the Events API serves the same events to whoever may read the organization, and long-polls")
	sys.kubectl(t, "create", "clusterrole", "scim-view", "--verb=get,list,watch", "--resource=scimintegrations.enterprise.z8z8.io")
	sys.kubectl(t, "-n", "acme", "create", "rolebinding", "app-view", "--clusterrole=scim-view", "--user=hr-app")
	get := func(user, query string) (int, map[string]any) {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", sys.baseURL+"/api/v1alpha1/organizations/acme/events"+query, nil)
		req.Header.Set("X-Remote-User", user)
		resp, err := http.DefaultClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer func() { _ = resp.Body.Close() }()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &out)
		return resp.StatusCode, out
	}
	status, _ := get("mallory", "")
	g.Expect(status).To(Equal(http.StatusNotFound))
	status, page := get("hr-app", "?after=0&limit=500")
	g.Expect(status).To(Equal(http.StatusOK))
	items := page["items"].([]any)
	ids := map[string]bool{}
	for _, it := range items {
		ids[it.(map[string]any)["id"].(string)] = true
	}
	for id := range rc.seen {
		g.Expect(ids).To(HaveKey(id), "the pull API has every pushed event")
	}
	next := page["next"].(string)
	status, _ = get("hr-app", "?after=0&limit=0")
	g.Expect(status).To(Equal(http.StatusBadRequest))

	done := make(chan map[string]any, 1)
	go func() {
		_, p := get("hr-app", "?after="+next+"&wait=20s")
		done <- p
	}()
	time.Sleep(500 * time.Millisecond)
	scimCall("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"grace@acme.example"}`, http.StatusCreated)
	var waited map[string]any
	g.Eventually(done).Should(Receive(&waited))
	g.Expect(waited["items"]).To(HaveLen(1))
	g.Expect(waited["items"].([]any)[0].(map[string]any)["type"]).To(Equal("member.provisioned"))
	g.Eventually(func() string { return strings.Join(rc.types(), ",") }).Should(HaveSuffix("membership.removed,member.provisioned"),
		"and the webhook follows")

	t.Log("the wizard's status step shows the delivery to an admin of the namespace")
	sys.kubectl(t, "create", "clusterrole", "org-ops", "--verb=get,list,watch",
		"--resource=scimintegrations.enterprise.z8z8.io,enterpriseidentities.enterprise.z8z8.io,eventsubscriptions.enterprise.z8z8.io")
	sys.kubectl(t, "-n", "acme", "create", "rolebinding", "ops", "--clusterrole=org-ops", "--user=ops")
	g.Eventually(func() string {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", sys.baseURL+"/settings/enterprise/identity-setup/acme/acme/status", nil)
		req.Header.Set("X-Remote-User", "ops")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}).Should(And(ContainSubstring(`id="subscriptions"`), ContainSubstring("hr-app"), ContainSubstring("Delivering"),
		ContainSubstring(srv.URL+"/…"), Not(ContainSubstring("s3cret"))),
		"the receiver's URL without the credentials its path and query carry: the page is for whoever may read the integration")
}
