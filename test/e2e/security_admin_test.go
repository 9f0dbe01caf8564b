package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/operator"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// Many hostile tenants share one installation: the admin API must not believe a tenant's forged
// proxy headers, act on a cross-site request, reveal other tenants' organizations, or let a
// caller borrow a power through the operator's impersonation. Real HTTP on loopback, a real API
// server deciding RBAC and admission.
func TestAdminAPISecurity(t *testing.T) {
	sys := start(t) // proxy headers trusted from 127.0.0.1/32 only
	acme := sampleOrganization(t, sys)
	sys.kubectl(t, "create", "clusterrole", "scim-admin", "--verb=get,list,watch,update,patch",
		"--resource=scimintegrations.enterprise.z8z8.io,enterpriseidentities.enterprise.z8z8.io")
	sys.kubectl(t, "-n", "acme", "create", "rolebinding", "alice-admin", "--clusterrole=scim-admin", "--user=alice")
	api := sys.baseURL + "/api/v1alpha1/organizations/"
	asAlice := map[string]string{"X-Remote-User": "alice", "X-EIO-Request": "1"}

	t.Run("ForgedProxyHeaders", func(t *testing.T) {
		g := patient(t)
		// A tenant's own Ingress to the data plane arrives from another address than the proxy.
		status, body := send(t, "127.0.0.3", "GET", api+"acme/status", "", map[string]string{"X-Remote-User": "alice",
			"X-Remote-Group": "acme-admins", "X-Forwarded-For": "127.0.0.1"})
		g.Expect(status).To(Equal(http.StatusUnauthorized), body)
		status, body = send(t, "127.0.0.3", "POST", api+"acme/token/rotate", "", asAlice)
		g.Expect(status).To(Equal(http.StatusUnauthorized), body)
		g.Expect(rotation(t, sys, acme)).To(BeZero())
		status, body = send(t, "127.0.0.1", "GET", api+"acme/status", "", map[string]string{"X-Remote-User": "alice"})
		g.Expect(status).To(Equal(http.StatusOK), body)
	})

	t.Run("CrossSiteActions", func(t *testing.T) {
		g := patient(t)
		before := fingerprint(t, sys, acme)
		evil := map[string]string{"X-Remote-User": "alice", "Content-Type": "application/x-www-form-urlencoded",
			"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
		for _, path := range []string{"token/rotate", "deprovisioning/release", "token/reveal"} {
			status, body := send(t, "127.0.0.1", "POST", api+"acme/"+path, "x=1", evil)
			g.Expect(status).To(Equal(http.StatusForbidden), path)
			g.Expect(body).To(ContainSubstring(`"error":"Cross-site request refused`))
		}
		// Without the custom header even without Origin (a browser too old to send it).
		status, body := send(t, "127.0.0.1", "POST", api+"acme/token/rotate", "x=1",
			map[string]string{"X-Remote-User": "alice", "Content-Type": "text/plain"})
		g.Expect(status).To(Equal(http.StatusForbidden))
		g.Expect(body).To(ContainSubstring("X-EIO-Request"))
		g.Expect(rotation(t, sys, acme)).To(BeZero(), "nothing changed")
		g.Expect(fingerprint(t, sys, acme)).To(Equal(before))
		status, log := send(t, "127.0.0.1", "GET", api+"acme/audit-events?limit=100", "", map[string]string{"X-Remote-User": "alice"})
		g.Expect(status).To(Equal(http.StatusOK))
		g.Expect(log).NotTo(SatisfyAny(ContainSubstring("token.rotate"), ContainSubstring("deprovisioning.release")))

		same := map[string]string{"X-Remote-User": "alice", "X-EIO-Request": "1", "Origin": sys.baseURL, "Sec-Fetch-Site": "same-origin"}
		status, body = send(t, "127.0.0.1", "POST", api+"acme/deprovisioning/release", "", same)
		g.Expect(status).To(Equal(http.StatusOK), body)
		status, body = rotateRetrying(t, api+"acme/token/rotate", same)
		g.Expect(status).To(Equal(http.StatusAccepted), body)
		g.Expect(rotation(t, sys, acme)).To(Equal(int64(1)))
		g.Eventually(func() string { return fingerprint(t, sys, acme) }).ShouldNot(Equal(before), "a new token was issued")
	})

	t.Run("NoOrganizationEnumeration", func(t *testing.T) {
		g := patient(t)
		// mallory administers namespace globex (which has no organization), nothing in acme.
		sys.kubectl(t, "create", "namespace", "globex")
		sys.kubectl(t, "-n", "globex", "create", "rolebinding", "mallory-admin", "--clusterrole=scim-admin", "--user=mallory")
		mallory := map[string]string{"X-Remote-User": "mallory", "X-EIO-Request": "1"}
		for _, ep := range []struct{ method, path string }{
			{"GET", "/status"}, {"GET", "/members"}, {"GET", "/members/someone"}, {"GET", "/audit-events"},
			{"POST", "/members/someone/approve"}, {"POST", "/deprovisioning/release"}, {"POST", "/token/reveal"}, {"POST", "/token/rotate"},
		} {
			realStatus, realBody := send(t, "127.0.0.1", ep.method, api+"acme"+ep.path, "", mallory)
			noneStatus, noneBody := send(t, "127.0.0.1", ep.method, api+"no-such-org"+ep.path, "", mallory)
			g.Expect(realStatus).To(Equal(http.StatusNotFound), "%s %s", ep.method, ep.path)
			g.Expect([]any{realStatus, realBody}).To(Equal([]any{noneStatus, noneBody}), "%s %s", ep.method, ep.path)
		}
		// The wizard answers alike for the real organization and for made-up ones.
		wizard := sys.baseURL + "/settings/enterprise/identity-setup/"
		realStatus, realPage := send(t, "127.0.0.1", "GET", wizard+"acme/acme/status", "", mallory)
		for _, other := range []string{"acme/nope/status", "nope/nope/status", "globex/acme/status"} {
			status, page := send(t, "127.0.0.1", "GET", wizard+other, "", mallory)
			g.Expect([]any{status, page}).To(Equal([]any{realStatus, realPage}), other)
		}
		g.Expect(realStatus).To(Equal(http.StatusNotFound))
		g.Expect(realPage).NotTo(ContainSubstring("Acme Corporation"))
		// Who may see it but not act hears why.
		sys.kubectl(t, "create", "clusterrole", "scim-view", "--verb=get,list,watch", "--resource=scimintegrations.enterprise.z8z8.io")
		sys.kubectl(t, "-n", "acme", "create", "rolebinding", "bob-view", "--clusterrole=scim-view", "--user=bob")
		status, body := send(t, "127.0.0.1", "POST", api+"acme/token/rotate", "", map[string]string{"X-Remote-User": "bob", "X-EIO-Request": "1"})
		g.Expect(status).To(Equal(http.StatusForbidden))
		g.Expect(body).To(ContainSubstring("bob may not update"))
	})

	t.Run("ImpersonationKeepsTheRealIdentity", func(t *testing.T) {
		g := patient(t)
		sys.kubectl(t, "-n", "acme", "create", "serviceaccount", "rotator")
		sys.kubectl(t, "-n", "acme", "create", "rolebinding", "rotator-admin", "--clusterrole=scim-admin", "--serviceaccount=acme:rotator")
		sys.kubectl(t, "-n", "acme", "create", "rolebinding", "acme-admins", "--clusterrole=scim-admin", "--group=acme-admins")
		uid := sys.kubectl(t, "-n", "acme", "get", "serviceaccount", "rotator", "-o", "jsonpath={.metadata.uid}")
		// An admission policy, the API server's own view of who writes: the rotator's writes must
		// carry its UID and its token's credential id; eve's must not carry system:masters.
		policy := filepath.Join(t.TempDir(), "policy.yaml")
		g.Expect(os.WriteFile(policy, []byte(strings.ReplaceAll(identityPolicy, "ROTATOR_UID", uid)), 0o600)).To(Succeed())
		sys.kubectl(t, "apply", "-f", policy)
		probe := 0
		g.Eventually(func() string { // the policy is in force: impersonating without the UID is refused
			probe++
			out, _ := kubectlResult(sys, "--as=system:serviceaccount:acme:rotator", "-n", "acme", "label", "--overwrite", "scim", "acme", "probe="+strings.Repeat("x", probe%5+1))
			return out
		}).Should(ContainSubstring("must carry its UID"))

		before := rotation(t, sys, acme)
		token := strings.TrimSpace(sys.kubectl(t, "-n", "acme", "create", "token", "rotator"))
		rotate := func(headers map[string]string) (int, string) {
			return rotateRetrying(t, api+"acme/token/rotate", headers)
		}
		status, body := rotate(map[string]string{"Authorization": "Bearer " + token})
		g.Expect(status).To(Equal(http.StatusAccepted), body)
		g.Expect(rotation(t, sys, acme)).To(Equal(before + 1))

		// Proxy headers claiming system:masters: dropped before RBAC and before impersonation.
		status, body = rotate(map[string]string{"X-Remote-User": "trudy", "X-Remote-Group": "system:masters", "X-EIO-Request": "1"})
		g.Expect(status).To(Equal(http.StatusNotFound), body)
		status, body = rotate(map[string]string{"X-Remote-User": "eve", "X-Remote-Group": "acme-admins, system:masters", "X-EIO-Request": "1"})
		g.Expect(status).To(Equal(http.StatusAccepted), body)
		g.Expect(rotation(t, sys, acme)).To(Equal(before + 2))

		// The manager's generated ClusterRole lets it impersonate the UID and any extra.
		sys.kubectl(t, "apply", "-f", filepath.Join("..", "..", "config", "rbac", "role.yaml"))
		sys.kubectl(t, "create", "namespace", "eio-system")
		sys.kubectl(t, "-n", "eio-system", "create", "serviceaccount", "manager")
		sys.kubectl(t, "create", "clusterrolebinding", "eio-manager", "--clusterrole=manager-role", "--serviceaccount=eio-system:manager")
		managerImpersonates(t, sys, "eio-system", "manager")
	})
}

// With --local the local cluster admin (system:masters, impersonated) still works for make run,
// and, being ambient, needs the same-origin custom header for actions.
func TestAdminAPILocalUser(t *testing.T) {
	g := patient(t)
	sys := start(t, func(o *operator.Options) {
		o.TrustProxyHeaders, o.TrustedProxyCIDRs = false, nil
		o.LocalUser = &service.Identity{User: "local-admin", Groups: []string{"system:masters"}, Source: service.Local}
	})
	acme := sampleOrganization(t, sys)
	api := sys.baseURL + "/api/v1alpha1/organizations/acme/"
	status, body := send(t, "127.0.0.1", "POST", api+"token/rotate", "x=1",
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"})
	g.Expect(status).To(Equal(http.StatusForbidden), body)
	status, body = send(t, "127.0.0.1", "POST", api+"deprovisioning/release", "", nil)
	g.Expect(status).To(Equal(http.StatusForbidden), body)
	g.Expect(rotation(t, sys, acme)).To(BeZero())
	status, body = rotateRetrying(t, api+"token/rotate", map[string]string{"X-EIO-Request": "1"})
	g.Expect(status).To(Equal(http.StatusAccepted), body)
	g.Expect(rotation(t, sys, acme)).To(Equal(int64(1)))

	// A page on another site that gives its own name to this address (DNS rebinding) is not the
	// local admin, in the admin API and the wizard alike; 127.0.0.1 and localhost are.
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, host := range []string{"rebound.evil.example", "localhost", "127.0.0.1"} {
		local := host != "rebound.evil.example"
		for path, refused := range map[string]int{
			"/api/v1alpha1/organizations/acme/status": http.StatusUnauthorized,
			"/settings/enterprise/identity-setup":     http.StatusSeeOther, // to sign-in
		} {
			req, _ := http.NewRequestWithContext(sys.ctx, "GET", sys.baseURL+path, nil)
			req.Host = host
			resp, err := noRedirects.Do(req)
			g.Expect(err).NotTo(HaveOccurred())
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if local {
				g.Expect(resp.StatusCode).To(Equal(http.StatusOK), "%s at %s: %s", path, host, b)
				continue
			}
			g.Expect(resp.StatusCode).To(Equal(refused), "%s at %s: %s", path, host, b)
			if refused == http.StatusSeeOther {
				g.Expect(resp.Header.Get("Location")).To(HaveSuffix("/login"))
			} else {
				g.Expect(string(b)).To(ContainSubstring("DNS rebinding"))
			}
		}
	}
}

// managerImpersonates checks, with the API server's own answer (a SelfSubjectReview made through
// impersonation), that the manager's service account may impersonate a user with a UID, groups
// and extras of any key (kubectl auth can-i cannot ask: uids and userextras are not discoverable).
func managerImpersonates(t *testing.T, sys *system, namespace, serviceAccount string) {
	t.Helper()
	g := NewWithT(t)
	cfg := rest.AnonymousClientConfig(sys.env.Config)
	cfg.BearerToken = strings.TrimSpace(sys.kubectl(t, "-n", namespace, "create", "token", serviceAccount))
	extra := map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=test"}, "example.com/any-key": {"v"}}
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "someone", UID: "uid-1", Groups: []string{"people"}, Extra: extra}
	c, err := client.New(cfg, client.Options{Scheme: sys.k8s.Scheme()})
	g.Expect(err).NotTo(HaveOccurred())
	review := &authenticationv1.SelfSubjectReview{}
	g.Expect(c.Create(sys.ctx, review)).To(Succeed())
	u := review.Status.UserInfo
	g.Expect([]any{u.Username, u.UID, u.Extra["example.com/any-key"], u.Extra["authentication.kubernetes.io/credential-id"]}).
		To(Equal([]any{"someone", "uid-1", authenticationv1.ExtraValue{"v"}, authenticationv1.ExtraValue{"JTI=test"}}))
}

// patient is Gomega waiting as long as the operator may take.
func patient(t *testing.T) *WithT {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	return g
}

// identityPolicy denies writes to ScimIntegrations that do not carry the identity they should.
const identityPolicy = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: eio-impersonation-carries-identity
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - apiGroups: ["enterprise.z8z8.io"]
        apiVersions: ["*"]
        operations: ["UPDATE"]
        resources: ["scimintegrations"]
  validations:
    - expression: >-
        request.userInfo.username != 'system:serviceaccount:acme:rotator' ||
        (has(request.userInfo.uid) && request.userInfo.uid == 'ROTATOR_UID' &&
        has(request.userInfo.extra) && 'authentication.kubernetes.io/credential-id' in request.userInfo.extra)
      message: the rotator's writes must carry its UID and credential id
      reason: Forbidden
    - expression: "!(request.userInfo.username == 'eve' && has(request.userInfo.groups) && 'system:masters' in request.userInfo.groups)"
      message: eve must not carry system:masters
      reason: Forbidden
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: eio-impersonation-carries-identity
spec:
  policyName: eio-impersonation-carries-identity
  validationActions: [Deny]
`

// sampleOrganization applies the samples and waits until acme's endpoint serves.
func sampleOrganization(t *testing.T, sys *system) types.NamespacedName {
	t.Helper()
	sys.kubectl(t, "apply", "-k", filepath.Join("..", "..", "config", "samples"))
	key := types.NamespacedName{Namespace: "acme", Name: "acme"}
	NewWithT(t).Eventually(func() bool {
		scim := &v1alpha1.ScimIntegration{}
		_ = sys.k8s.Get(sys.ctx, key, scim)
		return meta.IsStatusConditionTrue(scim.Status.Conditions, v1alpha1.ConditionEndpointReady) &&
			scim.Status.ObservedGeneration == scim.Generation && scim.Status.Token != nil
	}, 30*time.Second, 100*time.Millisecond).Should(BeTrue())
	return key
}

// rotation is how many rotations the wizard and the admin API have asked for (the
// rotate-token annotation's counter; the spec is Git's).
func rotation(t *testing.T, sys *system, key types.NamespacedName) int64 {
	t.Helper()
	scim := &v1alpha1.ScimIntegration{}
	if err := sys.k8s.Get(sys.ctx, key, scim); err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.ParseInt(scim.Annotations[v1alpha1.AnnotationRotateToken], 10, 64)
	return n
}

func fingerprint(t *testing.T, sys *system, key types.NamespacedName) string {
	t.Helper()
	scim := &v1alpha1.ScimIntegration{}
	if err := sys.k8s.Get(sys.ctx, key, scim); err != nil || scim.Status.Token == nil {
		t.Fatalf("no token status: %v", err)
	}
	return scim.Status.Token.Fingerprint
}

// send makes one HTTP request from the loopback address from (a tenant's Ingress and the proxy
// are different peers) and returns the status and body.
func send(t *testing.T, from, method, url, body string, headers map[string]string) (int, string) {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", method, url, from, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// rotateRetrying asks for a rotation from the proxy's address. Right after another write the
// operator's cache may be stale and answer 409 ("try again"), as a client would, it tries again.
func rotateRetrying(t *testing.T, url string, headers map[string]string) (status int, body string) {
	t.Helper()
	patient(t).Eventually(func() int {
		status, body = send(t, "127.0.0.1", "POST", url, "", headers)
		return status
	}).ShouldNot(Equal(http.StatusConflict))
	return status, body
}

// kubectlResult runs kubectl and returns its output and error, for commands expected to fail.
func kubectlResult(sys *system, args ...string) (string, error) {
	out, err := exec.CommandContext(sys.ctx, filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), //nolint:gosec // test kubectl
		append([]string{"--kubeconfig", sys.kubeconfig}, args...)...).CombinedOutput()
	return string(out), err
}
