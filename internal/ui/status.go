package ui

import (
	"net/http"
	"net/url"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// auditPageSize is how many audit events a page shows.
const auditPageSize = 25

// statusView is the status and logs step.
type statusView struct {
	Status *service.Status
	// ConnectionVerifiedAt is when the identity provider first reached the endpoint (kept in the
	// ScimIntegration's status: a first time is not something the store summarizes).
	ConnectionVerifiedAt *metav1.Time
	Conditions           []metav1.Condition
	// Subscriptions deliver the organization's events to applications.
	Subscriptions []v1alpha1.EventSubscription
	Events        []store.AuditEvent
	Filter        url.Values
	NextURL       string
	FirstURL      string
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Step = "Status and logs", "status"
	if !v.Org.Serving() {
		v.Data = &statusView{}
		s.render(w, http.StatusOK, "status", v)
		return
	}
	org, err := s.served(r, v, "get")
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	st, err := s.Service.Status(r.Context(), org)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	filter := url.Values{}
	for _, k := range []string{"action", "outcome", "resource", "since", "until"} {
		if val := r.URL.Query().Get(k); val != "" {
			filter.Set(k, val)
		}
	}
	data := &statusView{Status: st, Conditions: v.Org.Scim.Status.Conditions, Filter: filter}
	if p := v.Org.Scim.Status.Provisioning; p != nil {
		data.ConnectionVerifiedAt = p.ConnectionVerifiedAt
	}
	if data.Subscriptions, err = s.Service.Subscriptions(r.Context(), org); err != nil {
		s.failWith(w, r, err)
		return
	}
	v.Data = data
	q, err := service.ParseAuditQuery(r.URL.Query())
	if err != nil {
		v.Error = err.Error()
		s.render(w, http.StatusBadRequest, "status", v)
		return
	}
	q.Limit = auditPageSize
	events, next, err := s.Service.AuditEvents(r.Context(), org, q)
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	data.Events = events
	if next != "" {
		nq := url.Values{}
		for k, vals := range filter {
			nq[k] = vals
		}
		nq.Set("cursor", next)
		data.NextURL = v.Org.URL() + "/status?" + nq.Encode()
	}
	if r.URL.Query().Get("cursor") != "" {
		data.FirstURL = v.Org.URL() + "/status?" + filter.Encode()
	}
	v.Notice = statusNotice(r)
	s.render(w, http.StatusOK, "status", v)
}

// statusNotice confirms a release or a replay the wizard redirected from, by its count.
func statusNotice(r *http.Request) string {
	if n, ok := countParam(r, "released"); ok {
		return "Released " + n + " held deprovisioning(s); they were applied in the order they arrived."
	}
	if n, ok := countParam(r, "replayed"); ok {
		return "Replaying " + n + " dead-lettered event(s): delivery restarts at the oldest; the receiver deduplicates what it already has by event id."
	}
	return ""
}

// release applies the deprovisionings the mass-deprovisioning guard holds.
func (s *Server) release(w http.ResponseWriter, r *http.Request, v *view) {
	who := s.who(r)
	org, err := s.served(r, v, "update")
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	n, err := s.Service.Release(r.Context(), org, actor(r, who))
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	seeOther(w, r, v.Org.URL()+"/status?released="+strconv.Itoa(n))
}

// replay delivers a subscription's dead letters again.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, v *view) {
	who := s.who(r)
	org, err := s.served(r, v, "update")
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	n, err := s.Service.Replay(r.Context(), org, actor(r, who), r.PathValue("subscription"))
	if err != nil {
		s.failWith(w, r, err)
		return
	}
	seeOther(w, r, v.Org.URL()+"/status?replayed="+strconv.Itoa(n))
}
