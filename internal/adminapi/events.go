package adminapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// itemsKey names a list in the API's answers.
const itemsKey = "items"

// events serves GET …/events?after=&limit=&wait=: a page of the organization's events in sequence
// order; wait (a duration such as 30s, or seconds) long-polls when nothing is new.
func (s *Server) events(w http.ResponseWriter, r *http.Request, org *tenant.Organization, _ service.Actor) {
	q := r.URL.Query()
	after, limit, wait := int64(0), 0, time.Duration(0)
	var err error
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			writeError(w, http.StatusBadRequest, "after must be a sequence number (0 or more)")
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > service.MaxEventPage {
			writeError(w, http.StatusBadRequest, "limit must be between 1 and "+strconv.Itoa(service.MaxEventPage))
			return
		}
	}
	if v := q.Get("wait"); v != "" {
		if wait, err = time.ParseDuration(v); err != nil {
			seconds, convErr := strconv.Atoi(v)
			wait, err = time.Duration(seconds)*time.Second, convErr
		}
		if err != nil || wait < 0 || wait > service.MaxEventWait {
			writeError(w, http.StatusBadRequest, "wait must be a duration of at most "+service.MaxEventWait.String())
			return
		}
	}
	page, err := s.Service.Events(r.Context(), org, after, limit, wait)
	if err != nil {
		writeFailure(w, err)
		return
	}
	s.writePage(w, org.Integration.Namespace, map[string]any{itemsKey: page.Items, "next": strconv.FormatInt(page.Next, 10)})
}

func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request, org *tenant.Organization, _ service.Actor) {
	letters, err := s.Service.DeadLetters(r.Context(), org, r.PathValue("name"))
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{itemsKey: letters})
}

func (s *Server) replay(w http.ResponseWriter, r *http.Request, org *tenant.Organization, who service.Actor) {
	n, err := s.Service.Replay(r.Context(), org, who, r.PathValue("name"))
	if err != nil {
		writeFailure(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"replayed": n,
		"note": "Delivery restarts at the oldest dead letter; later events are sent again and receivers deduplicate them by id."})
}
