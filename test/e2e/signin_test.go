package e2e

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/z8z8/enterprise-identity-operator/internal/operator"
)

// Guessing Kubernetes tokens at the admin API (or the wizard's sign-in form, the same check)
// costs the API server a TokenReview each: a source's refused sign-ins are limited, with 429 and
// Retry-After, while other sources and good tokens are unaffected. Behind one ingress every
// client shares an address: a token accepted a moment ago still works from a source over its
// budget, so a flood of bad tokens does not lock out the admins already at work.
func TestFailedSignInsAreLimitedPerSource(t *testing.T) {
	g := patient(t)
	// 127.0.0.8 is the ingress controller: its X-Forwarded-For names the client.
	sys := start(t, func(o *operator.Options) { o.ForwardedForCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.8/32")} })
	sampleOrganization(t, sys)
	sys.kubectl(t, "-n", "acme", "create", "serviceaccount", "auditor")
	good := strings.TrimSpace(sys.kubectl(t, "-n", "acme", "create", "token", "auditor"))
	api := sys.baseURL + "/api/v1alpha1/organizations/acme/status"
	guess := map[string]string{"Authorization": "Bearer not-a-kubernetes-token"}

	for range 20 { // the burst
		status, _ := send(t, "127.0.0.5", "GET", api, "", guess)
		g.Expect(status).To(Equal(http.StatusUnauthorized))
	}
	status, body := send(t, "127.0.0.5", "GET", api, "", guess)
	g.Expect(status).To(Equal(http.StatusTooManyRequests), body)
	g.Expect(body).To(ContainSubstring("Too many refused sign-ins"))

	t.Log("another address is not held back, and neither are good tokens (only failures are charged)")
	status, _ = send(t, "127.0.0.6", "GET", api, "", guess)
	g.Expect(status).To(Equal(http.StatusUnauthorized))
	for range 30 {
		status, body = send(t, "127.0.0.7", "GET", api, "", map[string]string{"Authorization": "Bearer " + good})
		g.Expect(status).NotTo(SatisfyAny(Equal(http.StatusTooManyRequests), Equal(http.StatusUnauthorized)), body)
	}

	t.Log("the good token, accepted a moment ago, also works from the source over its budget; a token not seen before waits")
	status, body = send(t, "127.0.0.5", "GET", api, "", map[string]string{"Authorization": "Bearer " + good})
	g.Expect(status).NotTo(SatisfyAny(Equal(http.StatusTooManyRequests), Equal(http.StatusUnauthorized)), body)
	other := strings.TrimSpace(sys.kubectl(t, "-n", "acme", "create", "token", "auditor"))
	status, _ = send(t, "127.0.0.5", "GET", api, "", map[string]string{"Authorization": "Bearer " + other})
	g.Expect(status).To(Equal(http.StatusTooManyRequests))

	t.Log("behind the ingress named by --forwarded-for-cidrs, each client has its own budget")
	for range 20 {
		status, _ = send(t, "127.0.0.8", "GET", api, "", map[string]string{"Authorization": "Bearer not-a-kubernetes-token", "X-Forwarded-For": "203.0.113.1"})
		g.Expect(status).To(Equal(http.StatusUnauthorized))
	}
	status, _ = send(t, "127.0.0.8", "GET", api, "", map[string]string{"Authorization": "Bearer not-a-kubernetes-token", "X-Forwarded-For": "203.0.113.1"})
	g.Expect(status).To(Equal(http.StatusTooManyRequests))
	status, body = send(t, "127.0.0.8", "GET", api, "", map[string]string{"Authorization": "Bearer " + other, "X-Forwarded-For": "203.0.113.2"})
	g.Expect(status).NotTo(SatisfyAny(Equal(http.StatusTooManyRequests), Equal(http.StatusUnauthorized)), body)
}
