package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// The notice box speaks for the wizard: a link crafted with words in ?rotated= (or ?released=,
// ?replayed=) shows no notice; the count the wizard's own redirect carries shows the usual one.
func TestANoticeShowsOnlyTheWizardsOwnCount(t *testing.T) {
	s := newTestServer()
	s.pages = parsePages()
	notice := `class="message notice"`
	for query, want := range map[string]string{
		"rotated=3":   "Rotation 3 requested: a new token is being issued",
		"rotated=abc": "",
		"rotated=Your+token+leaked.+Paste+it+at+https%3A%2F%2Fevil.example": "",
		"rotated=-1": "",
		"rotated=":   "",
	} {
		v := &view{CSRF: "c", Org: &organization{Identity: &v1alpha1.EnterpriseIdentity{
			ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "acme"}, Spec: v1alpha1.EnterpriseIdentitySpec{Organization: "acme"}}}}
		r := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080"+Path+"/acme/acme/credentials?"+query, nil)
		w := httptest.NewRecorder()
		s.credentialsPage(w, r, v)
		body := w.Body.String()
		switch {
		case w.Code != http.StatusOK:
			t.Errorf("?%s: %d", query, w.Code)
		case want == "" && (strings.Contains(body, notice) || strings.Contains(body, "evil.example") || strings.Contains(body, "abc")):
			t.Errorf("?%s put a notice on the page:\n%s", query, body)
		case want != "" && !strings.Contains(body, want):
			t.Errorf("?%s: the usual notice is missing:\n%s", query, body)
		}
	}
	for query, want := range map[string]string{
		"released=2":                        "Released 2 held deprovisioning(s)",
		"replayed=0":                        "Replaying 0 dead-lettered event(s)",
		"released=007":                      "Released 7 held",
		"released=two+%28call+us+at+555%29": "",
		"replayed=1e3":                      "",
		"replayed=-4":                       "",
		"released=99999999999999999999":     "",
		"replayed=%3Cb%3Eurgent%3C%2Fb%3E":  "",
	} {
		r := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080"+Path+"/acme/acme/status?"+query, nil)
		if got := statusNotice(r); !strings.HasPrefix(got, want) || (want == "") != (got == "") {
			t.Errorf("?%s: notice %q, want one starting %q", query, got, want)
		}
	}
}

// The page a rotation redirects to polls until the token answers the request, though the
// operator's view of the integration (its cache) may not carry the request yet: it rendered as
// done, never showed the new token, and the browser test waited for it in vain.
func TestTheCredentialsPageWaitsForTheRotationItAskedFor(t *testing.T) {
	s := newTestServer()
	s.pages = parsePages()
	for answered, want := range map[string]string{"": `data-pending="true"`, "2": `data-pending="false"`} {
		ready := []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready"},
			{Type: v1alpha1.ConditionSSOReady, Status: metav1.ConditionTrue, Reason: "Validated"}}
		// As the operator's cache may show it just after the request: no rotate-token annotation yet.
		scim := &v1alpha1.ScimIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "acme"},
			Status: v1alpha1.ScimIntegrationStatus{Conditions: ready, Token: &v1alpha1.TokenStatus{Fingerprint: "f", RotationRequest: answered}}}
		v := &view{CSRF: "c", Org: &organization{Identity: &v1alpha1.EnterpriseIdentity{
			ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "acme"}, Spec: v1alpha1.EnterpriseIdentitySpec{Organization: "acme"},
			Status: v1alpha1.EnterpriseIdentityStatus{Conditions: ready}}, Scim: scim}}
		r := httptest.NewRequestWithContext(t.Context(), "GET", "http://127.0.0.1:8080"+Path+"/acme/acme/credentials?rotated=2", nil)
		w := httptest.NewRecorder()
		s.credentialsPage(w, r, v)
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("rotation 2 asked, %q answered: want %s in the page", answered, want)
		}
	}
}
