package controllers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/test/localidp"
)

// slowMetadata serves SAML metadata after a delay and counts the requests it answers at once.
type slowMetadata struct {
	metadata  []byte
	mu        sync.Mutex
	now, most int
}

func (s *slowMetadata) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.now++
	s.most = max(s.most, s.now)
	s.mu.Unlock()
	time.Sleep(300 * time.Millisecond)
	s.mu.Lock()
	s.now--
	s.mu.Unlock()
	_, _ = w.Write(s.metadata)
}

func (s *slowMetadata) mostAtOnce() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.most
}

var _ = Describe("SSO checks of one namespace", func() {
	It("ask its identity providers at most two at a time, and each is checked in turn", func() {
		ns := newNamespace()
		slow := &slowMetadata{metadata: localidp.SAMLMetadata("https://idp.slow.example/saml", "https://idp.slow.example/sso",
			localidp.Certificate(time.Now().Add(365*24*time.Hour)))}
		srv := httptest.NewServer(slow)
		DeferCleanup(srv.Close)
		var identities []*v1alpha1.EnterpriseIdentity
		for i := range 6 {
			eid := &v1alpha1.EnterpriseIdentity{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("slow-%d", i)},
				Spec: v1alpha1.EnterpriseIdentitySpec{Organization: uniqueName("slow"),
					SSO: v1alpha1.SSOSpec{SAML: &v1alpha1.SAMLSpec{MetadataURL: srv.URL + "/metadata"}}},
			}
			Expect(k8s.Create(ctx, eid)).To(Succeed())
			identities = append(identities, eid)
		}
		for _, eid := range identities {
			eventually(condition(eid, v1alpha1.ConditionSSOReady)).Should(beTrue("Validated"))
		}
		Expect(slow.mostAtOnce()).To(BeNumerically("<=", 2), "metadata requests of one namespace at once")
	})
})
