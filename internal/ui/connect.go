package ui

import (
	"net/http"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/selftest"
)

// connect is the "connect your identity provider" step: instructions with this organization's
// values filled in, and the compatibility self-test's results once it has run.
type connect struct {
	BaseURL     string
	Fingerprint string
	Ready       bool
	Steps       []selftest.Step
	Passed      bool
	Ran         bool
	// Via says the self-test used the data plane's own address because the public base URL was
	// not reachable from inside.
	Via string
}

func (s *Server) connectData(v *view) *connect {
	c := &connect{}
	if sc := v.Org.Scim; sc != nil {
		c.BaseURL = sc.Status.BaseURL
		c.Ready = v.Org.Serving() && c.BaseURL != ""
		if sc.Status.Token != nil {
			c.Fingerprint = sc.Status.Token.Fingerprint
		}
	}
	return c
}

func (s *Server) connectPage(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Step, v.Data = "Connect your identity provider", "connect", s.connectData(v)
	s.render(w, http.StatusOK, "connect", v)
}

// selfTest probes the live endpoint with the token the admin pastes (the one their identity
// provider will send), the way Entra ID and Okta do.
func (s *Server) selfTest(w http.ResponseWriter, r *http.Request, v *view) {
	data := s.connectData(v)
	v.Title, v.Step, v.Data = "Connect your identity provider", "connect", data
	if _, err := s.served(r, v, "get"); err != nil {
		s.failWith(w, r, err)
		return
	}
	tok := strings.TrimSpace(r.PostFormValue("token"))
	if !data.Ready || tok == "" {
		v.Error = "Paste the bearer token your identity provider will use; the self-test sends it exactly as an identity provider would."
		if !data.Ready {
			v.Error = "The SCIM endpoint is not serving yet; finish the SCIM step and wait until it is ready."
		}
		s.render(w, http.StatusUnprocessableEntity, "connect", v)
		return
	}
	if !s.selfTests.start(v.Org.Name(), v.Org.Identity.Namespace) {
		v.Error = "Other self-tests are running (of this organization, of its namespace, or enough of them in all); try again in a few seconds."
		s.render(w, http.StatusTooManyRequests, "connect", v)
		return
	}
	defer s.selfTests.done(v.Org.Name(), v.Org.Identity.Namespace)
	data.Ran = true
	data.Steps = selftest.Run(r.Context(), s.SelfTestClient, data.BaseURL, tok)
	if unreachable(data.Steps) && s.LocalSCIMURL != "" {
		// Also the path when the base URL leads to an internal address the guarded client refuses:
		// the operator's own address is then the only one it may test.
		data.Via = "The public base URL could not be reached from inside the cluster, or leads to an internal address the operator does not " +
			"connect to, so the self-test went to the data plane directly; check your Ingress and DNS for the public URL."
		data.Steps = selftest.Run(r.Context(), s.LocalClient, strings.TrimRight(s.LocalSCIMURL, "/")+"/"+v.Org.Name(), tok)
	}
	data.Passed = selftest.AllPassed(data.Steps)
	s.render(w, http.StatusOK, "connect", v)
}

// unreachable says the first probe could not connect at all (DNS, refused, timeout).
func unreachable(steps []selftest.Step) bool {
	return len(steps) > 0 && steps[0].Status == 0 && steps[0].Outcome == selftest.Failed && strings.HasPrefix(steps[0].Detail, "could not reach")
}
