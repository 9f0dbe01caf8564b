package service

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// ParseAuditQuery reads the audit-event filters both the API and the wizard accept: cursor, limit,
// action, resource, outcome (success|failure), since and until (RFC 3339).
func ParseAuditQuery(q url.Values) (store.AuditQuery, error) {
	before, _ := strconv.ParseInt(q.Get("cursor"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	query := store.AuditQuery{Before: before, Limit: limit, Action: q.Get("action"), ResourceID: q.Get("resource")}
	switch q.Get("outcome") {
	case "failure":
		query.Failed = true
	case "success":
		query.Succeeded = true
	case "":
	default:
		return query, Refuse(http.StatusBadRequest, "outcome must be success or failure")
	}
	for name, t := range map[string]*time.Time{"since": &query.Since, "until": &query.Until} {
		if v := q.Get(name); v != "" {
			parsed, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return query, Refuse(http.StatusBadRequest, "%s must be an RFC 3339 time such as 2026-11-27T10:00:00Z", name)
			}
			*t = parsed
		}
	}
	return query, nil
}

// AuditEvents reads a page of the organization's audit log, newest first, and the next cursor.
func (s *Service) AuditEvents(ctx context.Context, org *tenant.Organization, q store.AuditQuery) ([]store.AuditEvent, string, error) {
	if err := s.heavyReads.start(ctx, org.Integration.Namespace); err != nil {
		return nil, "", err
	}
	defer s.heavyReads.done(org.Integration.Namespace)
	if q.Filtered() { // look through at most store.AuditScanWindow of the organization's events
		q.Window = store.AuditScanWindow
		if q.Before <= 0 { // the page and its window's end read below one same newest event
			mark, err := s.Store.ActivityMark(ctx, org.Name)
			if err != nil {
				return nil, "", s.internal(err)
			}
			q.Before = mark.Seq + 1
		}
	}
	events, err := s.Store.AuditEvents(ctx, org.Name, q)
	if err != nil {
		return nil, "", s.internal(err)
	}
	if events == nil {
		events = []store.AuditEvent{}
	}
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100 // the store's default and cap
	}
	if len(events) == limit {
		return events, strconv.FormatInt(events[len(events)-1].Seq, 10), nil
	}
	if q.Window == 0 {
		return events, "", nil
	}
	// The window ended before the page filled: go on below its oldest event, unless that is the
	// log's end or older than since.
	end, at, more, err := s.Store.AuditWindowEnd(ctx, org.Name, q)
	if err != nil {
		return nil, "", s.internal(err)
	}
	if !more || !q.Since.IsZero() && at < q.Since.UnixMicro() {
		return events, "", nil
	}
	return events, strconv.FormatInt(end, 10), nil
}

// auditAdmin records an admin action (never a token).
func (s *Service) auditAdmin(ctx context.Context, org *tenant.Organization, who Actor, action, detail string) {
	if err := s.Store.RecordAudit(ctx, []store.AuditEvent{{
		Org: org.Name, Time: time.Now().UTC(), RequestID: requestID(), Action: action, Client: "admin:" + who.User,
		Method: who.Method, Path: who.Path, ResourceType: "ScimIntegration", ResourceID: org.Integration.Name,
		Status: http.StatusOK, Detail: detail, Binding: org.Binding,
	}}); err != nil {
		s.Log.Error("Recording an admin action in the audit log failed", "organization", org.Name, "action", action, "error", err)
	}
}
