package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/sso"
)

// A tenant points its SAML metadata URL at the cloud metadata service, directly and through a
// redirect from a server the operator may reach: the operator, as assembled, refuses both at
// dial time (nothing is sent to 169.254.169.254) and says so in the SSOReady condition.
func TestTenantURLsCannotReachTheMetadataService(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(30 * time.Second)
	g.SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	sys := start(t)
	const metadataService = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
	// On loopback, which these tests allow as --local does.
	redirector := httptest.NewServer(http.RedirectHandler(metadataService, http.StatusFound))
	defer redirector.Close()

	g.Expect(sys.k8s.Create(sys.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ssrf"}})).To(Succeed())
	for name, url := range map[string]string{"direct": metadataService, "redirected": redirector.URL + "/metadata"} {
		eid := &v1alpha1.EnterpriseIdentity{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ssrf", Name: name},
			Spec: v1alpha1.EnterpriseIdentitySpec{Organization: "ssrf-" + name,
				SSO: v1alpha1.SSOSpec{SAML: &v1alpha1.SAMLSpec{MetadataURL: url}}},
		}
		g.Expect(sys.k8s.Create(sys.ctx, eid)).To(Succeed())
		g.Eventually(func() string {
			got := &v1alpha1.EnterpriseIdentity{}
			if err := sys.k8s.Get(sys.ctx, types.NamespacedName{Namespace: "ssrf", Name: name}, got); err != nil {
				return err.Error()
			}
			c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionSSOReady)
			if c == nil {
				return "absent"
			}
			if !strings.Contains(c.Message, url) || !strings.Contains(c.Message, "169.254.169.254, a link-local address") {
				return "message: " + c.Message
			}
			return string(c.Status) + "/" + c.Reason
		}).Should(Equal("False/"+sso.ReasonURLNotAllowed), name)
	}
}
