package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
)

// crowdSize is how many EnterpriseIdentities the crowding tenant creates: well past a page (50)
// and past the per-namespace budget of per-object checks (32).
const crowdSize = 120

// A tenant that creates many EnterpriseIdentities in its own namespace must not make every other
// admin's organizations page cost a SubjectAccessReview per object, nor clutter it; its own admin
// sees them a page at a time, and an admin granted one of them by name finds it.
func TestOrganizationsPageCostDoesNotGrowWithAnotherTenantsIdentities(t *testing.T) {
	sys := start(t)
	g := patient(t)
	sampleOrganization(t, sys)
	sys.kubectl(t, "create", "clusterrole", "scim-admin", "--verb=get,list,watch,update,patch",
		"--resource=scimintegrations.enterprise.z8z8.io,enterpriseidentities.enterprise.z8z8.io")
	sys.kubectl(t, "-n", "acme", "create", "rolebinding", "alice-admin", "--clusterrole=scim-admin", "--user=alice")
	namespace(g, sys, "crowd")
	sys.kubectl(t, "-n", "crowd", "create", "rolebinding", "carol-admin", "--clusterrole=scim-admin", "--user=carol")
	for i := range crowdSize {
		name := fmt.Sprintf("crowd-%03d", i)
		g.Expect(sys.k8s.Create(sys.ctx, hostileIdentity("crowd", name, name))).To(Succeed())
	}
	// dave may read one of them, by name, and nothing else.
	sys.kubectl(t, "-n", "crowd", "create", "role", "one-identity", "--verb=get",
		"--resource=enterpriseidentities.enterprise.z8z8.io", "--resource-name=crowd-117")
	sys.kubectl(t, "-n", "crowd", "create", "rolebinding", "dave-one", "--role=one-identity", "--user=dave")

	wizard := sys.baseURL + "/settings/enterprise/identity-setup"
	page := func(user, query string) string {
		status, body := send(t, "127.0.0.1", "GET", wizard+query, "", map[string]string{"X-Remote-User": user})
		g.Expect(status).To(Equal(http.StatusOK), body)
		return body
	}
	g.Eventually(func() string { return page("carol", "") }).Should(ContainSubstring(fmt.Sprintf("(%d organizations)", crowdSize)),
		"the operator's cache holds the crowd")

	t.Log("an admin of another namespace: a few reviews per namespace, not one per object, and no crowd")
	before := subjectAccessReviews(t, sys)
	body := page("alice", "")
	reviews := subjectAccessReviews(t, sys) - before
	g.Expect(body).To(ContainSubstring("Acme Corporation"))
	g.Expect(body).NotTo(SatisfyAny(ContainSubstring("crowd-"), ContainSubstring("organizations-unchecked"), ContainSubstring("Page 1 of")))
	// One review for the cluster, two for acme (identities, integrations), one for crowd and the
	// rules there, and acme's live status: 6.
	t.Logf("alice's page: %.0f access reviews beside %d identities of another namespace", reviews, crowdSize)
	g.Expect(reviews).To(BeNumerically("<=", 10), "access reviews for one view of the page")
	before = subjectAccessReviews(t, sys)
	g.Expect(page("alice", "")).To(ContainSubstring("Acme Corporation"))
	again := subjectAccessReviews(t, sys) - before
	t.Logf("alice's page again: %.0f access reviews", again)
	g.Expect(again).To(BeNumerically("<", reviews), "the page reloaded: the namespaces' answers are kept for a moment")

	t.Log("the crowd's own admin pages through them, 50 at a time")
	first := page("carol", "")
	g.Expect(first).To(SatisfyAll(ContainSubstring("Page 1 of 3"), ContainSubstring("crowd-000"), ContainSubstring("crowd-049"),
		Not(ContainSubstring("crowd-050")), ContainSubstring(`href="/settings/enterprise/identity-setup?page=2"`)))
	last := page("carol", "?page=3")
	g.Expect(last).To(SatisfyAll(ContainSubstring("Page 3 of 3"), ContainSubstring("crowd-119"), Not(ContainSubstring("crowd-099")),
		ContainSubstring(`href="/settings/enterprise/identity-setup?page=2"`), Not(ContainSubstring("Next page"))))
	g.Expect(page("carol", "?page=99")).To(ContainSubstring("Page 3 of 3"), "a page past the end shows the last")
	g.Expect(page("carol", "?page=-1")).To(ContainSubstring("Page 1 of 3"))

	t.Log("an admin granted one identity by name finds it, past the per-object budget, at the cost of its own check")
	before = subjectAccessReviews(t, sys)
	body = page("dave", "")
	reviews = subjectAccessReviews(t, sys) - before
	g.Expect(body).To(SatisfyAll(ContainSubstring("crowd-117"), Not(ContainSubstring("crowd-116")), Not(ContainSubstring("Acme Corporation")),
		Not(ContainSubstring("organizations-unchecked"))))
	t.Logf("dave's page: %.0f access reviews", reviews)
	g.Expect(reviews).To(BeNumerically("<=", 10), "access reviews for one view of the page")
}

// subjectAccessReviews is how many access reviews (SubjectAccessReviews and
// SelfSubjectRulesReviews) the API server has answered, from its own metrics.
func subjectAccessReviews(t *testing.T, sys *system) float64 {
	t.Helper()
	c, err := rest.HTTPClientFor(sys.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(sys.ctx, http.MethodGet, strings.TrimSuffix(sys.env.Config.Host, "/")+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the API server's metrics: %s (%s)", resp.Status, sys.env.Config.Host)
	}
	var total float64
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		line := lines.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, `resource="subjectaccessreviews"`) &&
			!strings.Contains(line, `resource="selfsubjectrulesreviews"`) {
			continue
		}
		n, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("reading %q: %v", line, err)
		}
		total += n
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}
