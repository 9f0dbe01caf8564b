package e2e

import (
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
)

// /readyz means the replica can serve SCIM: it fails once the store stops answering, while
// /healthz, about the process, stays up.
func TestReadinessFollowsTheStore(t *testing.T) {
	g := patient(t)
	sys := start(t)
	probe := func(path string) func() int {
		return func() int { status, _ := call(t, "GET", sys.probeURL+path, "", ""); return status }
	}
	g.Eventually(probe("/readyz")).Should(Equal(http.StatusOK))
	sys.closeStore()
	g.Eventually(probe("/readyz")).Should(Equal(http.StatusInternalServerError))
	g.Expect(probe("/healthz")()).To(Equal(http.StatusOK))
}
