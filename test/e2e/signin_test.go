package e2e

import (
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// Guessing Kubernetes tokens at the admin API (or the wizard's sign-in form, the same check)
// costs the API server a TokenReview each: a source's refused sign-ins are limited, with 429 and
// Retry-After, while other sources and good tokens are unaffected.
func TestFailedSignInsAreLimitedPerSource(t *testing.T) {
	g := patient(t)
	sys := start(t)
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
}
