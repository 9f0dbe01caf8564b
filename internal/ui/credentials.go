package ui

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// credentials is the credentials step: the base URL and the token's state, and the token itself
// only in the response to the reveal that shows it once.
type credentials struct {
	BaseURL  string
	Token    *v1alpha1.TokenStatus
	Overlap  string
	BYO      bool
	Revealed *service.Revealed
}

func (s *Server) credentialsData(v *view) *credentials {
	c := &credentials{Overlap: "24h"}
	if sc := v.Org.Scim; sc != nil {
		c.BaseURL, c.Token, c.BYO = sc.Status.BaseURL, sc.Status.Token, sc.Spec.Token.SecretRef != nil
		if sc.Spec.Token.Overlap != nil {
			c.Overlap = sc.Spec.Token.Overlap.Duration.String()
		}
	}
	return c
}

func (s *Server) credentialsPage(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Step, v.Data = "Credentials", "credentials", s.credentialsData(v)
	if n, ok := countParam(r, "rotated"); ok {
		v.Notice = "Rotation " + n + " requested: a new token is being issued and can be revealed below once it is ready. " +
			"The previous token keeps working for the overlap window, so your identity provider keeps provisioning while you replace it."
		// Right after the request the cached integration may not carry it yet (Pending would say
		// done, and the page would never show the new token): wait until the token answers it.
		if sc := v.Org.Scim; sc != nil && (sc.Status.Token == nil || sc.Status.Token.RotationRequest != n) {
			v.Waiting = true
		}
	}
	s.render(w, http.StatusOK, "credentials", v)
}

// revealToken shows the token once, in this response only: never in a URL, log or cookie.
func (s *Server) revealToken(w http.ResponseWriter, r *http.Request, v *view) {
	who := s.who(r)
	org, err := s.served(r, v, "get")
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	data := s.credentialsData(v)
	v.Title, v.Step, v.Data = "Credentials", "credentials", data
	revealed, err := s.Service.RevealToken(r.Context(), org, actor(r, who))
	if err != nil {
		v.Error = err.Error()
		s.render(w, statusOf(err), "credentials", v)
		return
	}
	data.Revealed = revealed
	if data.Token != nil {
		data.Token.Retrievable = false
	}
	s.render(w, http.StatusOK, "credentials", v)
}

// rotateToken raises spec.token.rotation as the admin.
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, v *view) {
	who := s.who(r)
	org, err := s.served(r, v, "update")
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	next, err := s.Service.RotateToken(r.Context(), org, actor(r, who))
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	seeOther(w, r, fmt.Sprintf("%s/credentials?rotated=%d", v.Org.URL(), next))
}

func statusOf(err error) int {
	if e := (*service.Error)(nil); errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}

// formatTime is how pages show times: UTC, to the second.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
