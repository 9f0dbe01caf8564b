package adminapi

import (
	"net/http"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// RequestHeader must accompany every POST whose identity comes with the connection rather than
// with the request: proxy headers (the browser's cookie at the proxy) and --local. A browser
// sends a custom header cross-site only after a CORS preflight, which the admin API never
// answers, so a form or fetch on another site cannot act in the admin's name. A Kubernetes
// bearer token is not ambient: a browser does not add one by itself.
const RequestHeader = "X-EIO-Request"

// crossSite refuses an action a page on another site could have sent: a POST whose
// Sec-Fetch-Site or Origin names another origin (checked for every caller, because a proxy may
// also add a bearer token for the browser), or, for ambient identities, a POST without
// RequestHeader. The answer is a refusal or nil.
func (s *Server) crossSite(r *http.Request, who service.Identity) *service.Error {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	origins := s.origins
	if origins == nil { // a Server used without Routes
		origins = http.NewCrossOriginProtection()
	}
	if origins.Check(r) != nil {
		return service.Refuse(http.StatusForbidden,
			"Cross-site request refused: admin API actions are accepted only from the data plane's own origin")
	}
	if who.Source != service.Reviewed && strings.TrimSpace(r.Header.Get(RequestHeader)) == "" {
		return service.Refuse(http.StatusForbidden,
			"Send the header %s: 1 with every POST: without it, a page on another site could act in your name", RequestHeader)
	}
	return nil
}

// newOriginCheck is Go's Sec-Fetch-Site/Origin check (the one the wizard uses too), also
// accepting the configured origins (the public --external-url, behind a proxy that rewrites Host).
func newOriginCheck(trusted []string) (*http.CrossOriginProtection, []error) {
	c := http.NewCrossOriginProtection()
	var errs []error
	for _, o := range trusted {
		if err := c.AddTrustedOrigin(o); err != nil {
			errs = append(errs, err)
		}
	}
	return c, errs
}
