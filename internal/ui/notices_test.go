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
