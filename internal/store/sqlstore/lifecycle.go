package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/lifecycle"
	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// effects applies a SCIM write's member effects and audit events inside its transaction.
// user is the user after the write (nil when deleted); ev the lifecycle event (empty: none).
func (s *Store) effects(ctx context.Context, tx *sql.Tx, w store.Write, org, userID string, user *store.Resource, ev lifecycle.Event) error {
	requestID := ""
	if w.Audit != nil {
		e := *w.Audit
		e.Org, requestID = org, e.RequestID
		if e.ResourceID == "" {
			e.ResourceID = userID
		}
		// The request first, then what it did to the member.
		if err := s.insertAudit(ctx, tx, e); err != nil {
			return err
		}
	}
	if w.Policy != nil && ev != "" {
		return s.applyLifecycle(ctx, tx, *w.Policy, org, userID, user, ev, requestID)
	}
	return nil
}

func (s *Store) applyLifecycle(ctx context.Context, tx *sql.Tx, p lifecycle.Policy, org, userID string, user *store.Resource,
	ev lifecycle.Event, requestID string) error {
	var prev *lifecycle.Member
	if user == nil || user.Version > 1 { // a new resource id has no member yet: skip the read
		var err error
		if prev, err = s.loadMember(ctx, tx, org, userID); err != nil {
			return err
		}
	}
	now := time.Now().UTC()
	if prev == nil && ev != lifecycle.EventCreated && ev != lifecycle.EventDeactivated && !p.DryRun {
		// A user stored before members existed: it joins now, under the current policy.
		m, t := lifecycle.Decide(p, nil, lifecycle.EventCreated)
		if err := s.recordTransition(ctx, tx, org, userID, t, requestID, now); err != nil {
			return err
		}
		prev = &m
	}
	if held, err := s.guard(ctx, tx, p, org, userID, ev, requestID, now); err != nil || held {
		return err
	}
	m, t := lifecycle.Decide(p, prev, ev)
	if p.DryRun {
		// Only say what would happen.
		if t == nil {
			return nil
		}
		return s.insertAudit(ctx, tx, store.AuditEvent{
			Org: org, Time: now, RequestID: requestID, Action: "member." + strings.ToLower(string(t.To)) + ".dry-run",
			ResourceType: "Member", ResourceID: userID, Status: 200, Detail: "Dry run, not applied: " + t.Reason,
		})
	}
	userName := ""
	if user != nil {
		userName = user.Name
	}
	if _, err := s.exec(ctx, tx, s.q(`INSERT INTO members (org, user_id, user_name, user_name_lower, state, role, approved, scim_deleted,
			created_us, modified_us, source)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'scim')
		ON CONFLICT (org, user_id) DO UPDATE SET user_name = CASE WHEN excluded.user_name = '' THEN members.user_name ELSE excluded.user_name END,
			user_name_lower = CASE WHEN excluded.user_name = '' THEN members.user_name_lower ELSE excluded.user_name_lower END,
			state = excluded.state, role = excluded.role, approved = excluded.approved, scim_deleted = excluded.scim_deleted,
			modified_us = excluded.modified_us`),
		org, userID, userName, strings.ToLower(userName), string(m.State), m.Role, s.d.columnBool(m.Approved), s.d.columnBool(m.Deleted),
		now.UnixMicro(), now.UnixMicro()); err != nil {
		return fmt.Errorf("recording member %s: %w", userID, err)
	}
	if err := s.upsertEmployee(ctx, tx, org, userID, user, m.EmployeeActive, now); err != nil {
		return err
	}
	return s.recordTransition(ctx, tx, org, userID, t, requestID, now)
}

func (s *Store) recordTransition(ctx context.Context, tx *sql.Tx, org, userID string, t *lifecycle.Transition, requestID string, now time.Time) error {
	if t == nil {
		return nil
	}
	if _, err := s.exec(ctx, tx, s.q(`INSERT INTO member_history (org, user_id, at_us, from_state, to_state, reason, request_id) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		org, userID, now.UnixMicro(), string(t.From), string(t.To), t.Reason, requestID); err != nil {
		return fmt.Errorf("recording member history: %w", err)
	}
	return s.insertAudit(ctx, tx, store.AuditEvent{
		Org: org, Time: now, RequestID: requestID, Action: "member." + strings.ToLower(string(t.To)),
		ResourceType: "Member", ResourceID: userID, Status: 200, Detail: t.Reason,
	})
}

// upsertEmployee keeps the employee record in step with the SCIM user (user nil: only active).
func (s *Store) upsertEmployee(ctx context.Context, tx *sql.Tx, org, userID string, user *store.Resource, active bool, now time.Time) error {
	if user == nil {
		_, err := s.exec(ctx, tx, s.q(`UPDATE employee_records SET active = ?, modified_us = ? WHERE org = ? AND user_id = ?`),
			s.d.columnBool(active), now.UnixMicro(), org, userID)
		return err
	}
	e := employeeFrom(user.Doc)
	_, err := s.exec(ctx, tx, s.q(`INSERT INTO employee_records (org, user_id, active, display_name, title, employee_number, department, cost_center,
			division, organization, manager_id, modified_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org, user_id) DO UPDATE SET active = excluded.active, display_name = excluded.display_name, title = excluded.title,
			employee_number = excluded.employee_number, department = excluded.department, cost_center = excluded.cost_center,
			division = excluded.division, organization = excluded.organization, manager_id = excluded.manager_id, modified_us = excluded.modified_us`),
		org, userID, s.d.columnBool(active), nullString(e.DisplayName), nullString(e.Title), nullString(e.EmployeeNumber), nullString(e.Department),
		nullString(e.CostCenter), nullString(e.Division), nullString(e.Organization), nullString(e.ManagerID), now.UnixMicro())
	if err != nil {
		return fmt.Errorf("recording employee record %s: %w", userID, err)
	}
	return nil
}

// employeeFrom reads the profile fields of a canonical user document.
func employeeFrom(doc []byte) store.EmployeeRecord {
	var d struct {
		DisplayName string `json:"displayName"`
		Title       string `json:"title"`
	}
	var whole map[string]json.RawMessage
	_ = json.Unmarshal(doc, &d)
	_ = json.Unmarshal(doc, &whole)
	var ext struct {
		EmployeeNumber string `json:"employeeNumber"`
		Department     string `json:"department"`
		CostCenter     string `json:"costCenter"`
		Division       string `json:"division"`
		Organization   string `json:"organization"`
		Manager        struct {
			Value string `json:"value"`
		} `json:"manager"`
	}
	_ = json.Unmarshal(whole[schema.EnterpriseUserURN], &ext)
	return store.EmployeeRecord{DisplayName: d.DisplayName, Title: d.Title, EmployeeNumber: ext.EmployeeNumber, Department: ext.Department,
		CostCenter: ext.CostCenter, Division: ext.Division, Organization: ext.Organization, ManagerID: ext.Manager.Value}
}

func (s *Store) loadMember(ctx context.Context, tx *sql.Tx, org, userID string) (*lifecycle.Member, error) {
	var (
		m                         lifecycle.Member
		state                     string
		approved, deleted, active any
	)
	err := s.queryRow(ctx, tx, s.q(`SELECT m.state, m.role, m.approved, m.scim_deleted, COALESCE(e.active, m.approved)
		FROM members m LEFT JOIN employee_records e ON e.org = m.org AND e.user_id = m.user_id WHERE m.org = ? AND m.user_id = ?`), org, userID).
		Scan(&state, &m.Role, &approved, &deleted, &active)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading member %s: %w", userID, err)
	}
	m.State, m.Approved, m.Deleted, m.EmployeeActive = lifecycle.State(state), truthy(approved), truthy(deleted), truthy(active)
	return &m, nil
}

func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case int64:
		return b != 0
	}
	return false
}

func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, e store.AuditEvent) error {
	_, err := s.exec(ctx, tx, s.q(`INSERT INTO audit_events (`+strings.Join(auditColumns, ", ")+`) VALUES (`+inList(len(auditColumns))+`)`),
		auditValues(e)...)
	if err != nil {
		return fmt.Errorf("recording audit event: %w", err)
	}
	return nil
}

var auditColumns = []string{"org", "at_us", "request_id", "action", "client", "token_fingerprint", "method", "path",
	"resource_type", "resource_id", "status", "scim_type", "detail", "attributes", "event_count", "source"}

func auditValues(e store.AuditEvent) []any {
	var attrs sql.NullString
	if len(e.Attributes) > 0 {
		b, _ := json.Marshal(e.Attributes)
		attrs = sql.NullString{String: string(b), Valid: true}
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	return []any{e.Org, e.Time.UnixMicro(), e.RequestID, e.Action, nullString(e.Client), nullString(e.TokenFingerprint), nullString(e.Method),
		nullString(e.Path), nullString(e.ResourceType), nullString(e.ResourceID), e.Status, nullString(e.ScimType), nullString(e.Detail), attrs,
		max(e.Count, 1), nullString(e.Source)}
}

// Member returns a member with its employee record and history.
func (s *Store) Member(ctx context.Context, org, userID string) (*store.MemberRecord, error) {
	rec := &store.MemberRecord{UserID: userID}
	var (
		state                            string
		approved, deleted, active        any
		created, modified                int64
		display, title, number, dept     sql.NullString
		cost, division, orgName, manager sql.NullString
	)
	err := s.queryRow(ctx, nil, s.q(`SELECT m.user_name, m.state, m.role, m.approved, m.scim_deleted, m.created_us, m.modified_us,
		e.active, e.display_name, e.title, e.employee_number, e.department, e.cost_center, e.division, e.organization, e.manager_id
		FROM members m JOIN employee_records e ON e.org = m.org AND e.user_id = m.user_id WHERE m.org = ? AND m.user_id = ?`), org, userID).
		Scan(&rec.UserName, &state, &rec.Member.Role, &approved, &deleted, &created, &modified,
			&active, &display, &title, &number, &dept, &cost, &division, &orgName, &manager)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading member %s: %w", userID, err)
	}
	rec.Member.State, rec.Member.Approved, rec.Member.Deleted = lifecycle.State(state), truthy(approved), truthy(deleted)
	rec.Member.EmployeeActive = truthy(active)
	rec.Created, rec.Modified = time.UnixMicro(created).UTC(), time.UnixMicro(modified).UTC()
	rec.Employee = store.EmployeeRecord{Active: truthy(active), DisplayName: display.String, Title: title.String, EmployeeNumber: number.String,
		Department: dept.String, CostCenter: cost.String, Division: division.String, Organization: orgName.String, ManagerID: manager.String}
	err = s.eachRow(ctx, `SELECT at_us, from_state, to_state, reason, COALESCE(request_id, '') FROM member_history
		WHERE org = ? AND user_id = ? ORDER BY seq`, []any{org, userID}, func(scan func(...any) error) error {
		var h store.HistoryEntry
		var at int64
		var from, to string
		if err := scan(&at, &from, &to, &h.Reason, &h.RequestID); err != nil {
			return err
		}
		h.Time, h.From, h.To = time.UnixMicro(at).UTC(), lifecycle.State(from), lifecycle.State(to)
		rec.History = append(rec.History, h)
		return nil
	})
	return rec, err
}

// MemberCounts counts an organization's members per state.
func (s *Store) MemberCounts(ctx context.Context, org string) (map[string]int64, error) {
	out := map[string]int64{}
	err := s.eachRow(ctx, `SELECT state, COUNT(*) FROM members WHERE org = ? GROUP BY state`, []any{org}, func(scan func(...any) error) error {
		var state string
		var n int64
		if err := scan(&state, &n); err != nil {
			return err
		}
		out[state] = n
		return nil
	})
	return out, err
}

// RecordAudit appends audit events in one transaction, many rows per statement (the events of
// reads arrive in batches; one statement per event would cost a read much of its throughput).
func (s *Store) RecordAudit(ctx context.Context, events []store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	const perStatement = 64
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(events); start += perStatement {
			chunk := events[start:min(start+perStatement, len(events))]
			rows := make([]string, 0, len(chunk))
			args := make([]any, 0, len(chunk)*len(auditColumns))
			for _, e := range chunk {
				rows = append(rows, "("+inList(len(auditColumns))+")")
				args = append(args, auditValues(e)...)
			}
			query := `INSERT INTO audit_events (` + strings.Join(auditColumns, ", ") + `) VALUES ` + strings.Join(rows, ", ")
			if _, err := s.exec(ctx, tx, s.q(query), args...); err != nil {
				return fmt.Errorf("recording audit events: %w", err)
			}
		}
		return nil
	})
}

// AuditEvents pages through an organization's audit log, newest first.
func (s *Store) AuditEvents(ctx context.Context, org string, q store.AuditQuery) ([]store.AuditEvent, error) {
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	before := q.Before
	if before <= 0 {
		before = 1 << 62
	}
	where, args := "org = ? AND seq < ?", []any{org, before}
	if !q.Since.IsZero() {
		where += " AND at_us >= ?"
		args = append(args, q.Since.UnixMicro())
	}
	if !q.Until.IsZero() {
		where += " AND at_us < ?"
		args = append(args, q.Until.UnixMicro())
	}
	if q.Action != "" {
		where += " AND action = ?"
		args = append(args, q.Action)
	}
	if q.ResourceID != "" {
		where += " AND resource_id = ?"
		args = append(args, q.ResourceID)
	}
	if q.Failed {
		where += " AND status >= 400"
	}
	if q.SCIMRequests {
		where += " AND path LIKE '/scim/%'"
	}
	if q.Succeeded {
		where += " AND status < 400"
	}
	var out []store.AuditEvent
	err := s.eachRow(ctx, `SELECT seq, at_us, request_id, action, COALESCE(client, ''), COALESCE(token_fingerprint, ''), COALESCE(method, ''),
		COALESCE(path, ''), COALESCE(resource_type, ''), COALESCE(resource_id, ''), status, COALESCE(scim_type, ''), COALESCE(detail, ''),
		COALESCE(attributes, ''), event_count, COALESCE(source, '') FROM audit_events WHERE `+where+` ORDER BY seq DESC LIMIT ?`, append(args, limit),
		func(scan func(...any) error) error {
			e := store.AuditEvent{Org: org}
			var at int64
			var attrs string
			if err := scan(&e.Seq, &at, &e.RequestID, &e.Action, &e.Client, &e.TokenFingerprint, &e.Method, &e.Path,
				&e.ResourceType, &e.ResourceID, &e.Status, &e.ScimType, &e.Detail, &attrs, &e.Count, &e.Source); err != nil {
				return err
			}
			e.Time = time.UnixMicro(at).UTC()
			if attrs != "" {
				_ = json.Unmarshal([]byte(attrs), &e.Attributes)
			}
			out = append(out, e)
			return nil
		})
	return out, err
}

// PruneAudit deletes an organization's audit events older than before.
func (s *Store) PruneAudit(ctx context.Context, org string, before time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, s.q(`DELETE FROM audit_events WHERE org = ? AND at_us < ?`), org, before.UnixMicro())
		if err != nil {
			return fmt.Errorf("pruning the audit log of %s: %w", org, err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

// ListMembers pages through an organization's members by user id.
func (s *Store) ListMembers(ctx context.Context, org string, q store.MemberQuery) ([]store.MemberRecord, string, error) {
	limit := q.Limit
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	where, args := "m.org = ? AND m.user_id > ?", []any{org, q.After}
	if q.State != "" {
		where += " AND m.state = ?"
		args = append(args, q.State)
	}
	if q.Search != "" {
		where += ` AND (lower(m.user_name) LIKE ? ESCAPE '\' OR lower(COALESCE(e.display_name, '')) LIKE ? ESCAPE '\')`
		pattern := "%" + escapeLike(strings.ToLower(q.Search)) + "%"
		args = append(args, pattern, pattern)
	}
	args = append(args, limit+1)
	var out []store.MemberRecord
	err := s.eachRow(ctx, `SELECT m.user_id, m.user_name, m.state, m.role, m.approved, m.scim_deleted, m.created_us, m.modified_us,
		e.active, COALESCE(e.display_name, ''), COALESCE(e.title, ''), COALESCE(e.department, '')
		FROM members m JOIN employee_records e ON e.org = m.org AND e.user_id = m.user_id
		WHERE `+where+` ORDER BY m.user_id LIMIT ?`, args, func(scan func(...any) error) error {
		var (
			rec                       store.MemberRecord
			state                     string
			approved, deleted, active any
			created, modified         int64
		)
		if err := scan(&rec.UserID, &rec.UserName, &state, &rec.Member.Role, &approved, &deleted, &created, &modified,
			&active, &rec.Employee.DisplayName, &rec.Employee.Title, &rec.Employee.Department); err != nil {
			return err
		}
		rec.Member.State, rec.Member.Approved, rec.Member.Deleted = lifecycle.State(state), truthy(approved), truthy(deleted)
		rec.Member.EmployeeActive, rec.Employee.Active = truthy(active), truthy(active)
		rec.Created, rec.Modified = time.UnixMicro(created).UTC(), time.UnixMicro(modified).UTC()
		out = append(out, rec)
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("listing members of %s: %w", org, err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].UserID
	}
	return out, next, nil
}

// ReviewMember approves or rejects a member waiting for review.
func (s *Store) ReviewMember(ctx context.Context, org, userID string, approve bool, audit store.AuditEvent) (*store.MemberRecord, error) {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		m, err := s.loadMember(ctx, tx, org, userID)
		if err != nil {
			return err
		}
		if m == nil {
			return store.ErrNotFound
		}
		next, t := lifecycle.Approve(*m)
		if !approve {
			next, t = lifecycle.Reject(*m)
		}
		audit.Org, audit.ResourceType, audit.ResourceID = org, "Member", userID
		if err := s.insertAudit(ctx, tx, audit); err != nil {
			return err
		}
		if t == nil {
			return nil
		}
		now := time.Now().UTC()
		if _, err := s.exec(ctx, tx, s.q(`UPDATE members SET state = ?, approved = ?, modified_us = ? WHERE org = ? AND user_id = ?`),
			string(next.State), s.d.columnBool(next.Approved), now.UnixMicro(), org, userID); err != nil {
			return fmt.Errorf("reviewing member %s: %w", userID, err)
		}
		if _, err := s.exec(ctx, tx, s.q(`UPDATE employee_records SET active = ?, modified_us = ? WHERE org = ? AND user_id = ?`),
			s.d.columnBool(next.EmployeeActive), now.UnixMicro(), org, userID); err != nil {
			return fmt.Errorf("reviewing employee record %s: %w", userID, err)
		}
		return s.recordTransition(ctx, tx, org, userID, t, audit.RequestID, now)
	})
	if err != nil {
		return nil, err
	}
	return s.Member(ctx, org, userID)
}

// guard holds a deprovisioning when the organization already lost MaxDeprovisionsPerHour members
// in the last hour, or when earlier ones are held (so they are released in order).
func (s *Store) guard(ctx context.Context, tx *sql.Tx, p lifecycle.Policy, org, userID string, ev lifecycle.Event,
	requestID string, now time.Time) (bool, error) {
	if p.MaxDeprovisionsPerHour <= 0 || p.DryRun || !lifecycle.Deprovisions(ev) {
		return false, nil
	}
	var recent, held int
	if err := s.queryRow(ctx, tx, s.q(`SELECT COUNT(*) FROM member_history WHERE org = ? AND at_us > ?
		AND (reason LIKE 'Deactivated:%' OR reason LIKE 'Deleted:%')`), org, now.Add(-time.Hour).UnixMicro()).Scan(&recent); err != nil {
		return false, fmt.Errorf("counting recent deprovisionings: %w", err)
	}
	if err := s.queryRow(ctx, tx, s.q(`SELECT COUNT(*) FROM held_deprovisions WHERE org = ?`), org).Scan(&held); err != nil {
		return false, fmt.Errorf("counting held deprovisionings: %w", err)
	}
	if recent < p.MaxDeprovisionsPerHour && held == 0 {
		return false, nil
	}
	if _, err := s.exec(ctx, tx, s.q(`INSERT INTO held_deprovisions (org, user_id, event, at_us, request_id) VALUES (?, ?, ?, ?, ?)`),
		org, userID, string(ev), now.UnixMicro(), requestID); err != nil {
		return false, fmt.Errorf("holding a deprovisioning: %w", err)
	}
	return true, s.insertAudit(ctx, tx, store.AuditEvent{
		Org: org, Time: now, RequestID: requestID, Action: "member.deprovision.held", ResourceType: "Member", ResourceID: userID,
		Status: 200, Detail: fmt.Sprintf("Held: %d members were deprovisioned in the last hour (maxPerHour %d)", recent, p.MaxDeprovisionsPerHour),
	})
}

// HeldDeprovisions counts the deprovisionings waiting for release.
func (s *Store) HeldDeprovisions(ctx context.Context, org string) (int64, error) {
	var n int64
	err := s.queryRow(ctx, nil, s.q(`SELECT COUNT(*) FROM held_deprovisions WHERE org = ?`), org).Scan(&n)
	return n, err
}

// ReleaseDeprovisions applies the held deprovisionings in order, under the policy without its
// guard, and records the release.
func (s *Store) ReleaseDeprovisions(ctx context.Context, org string, p lifecycle.Policy, audit store.AuditEvent) (int, error) {
	p.MaxDeprovisionsPerHour = 0
	released := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		list, err := s.heldList(ctx, tx, org)
		if err != nil {
			return err
		}
		audit.Org, audit.Detail = org, fmt.Sprintf("Released %d held deprovisionings", len(list))
		if err := s.insertAudit(ctx, tx, audit); err != nil {
			return err
		}
		for _, h := range list {
			user, err := s.get(ctx, tx, org, store.KindUser, h.userID, "")
			if errors.Is(err, store.ErrNotFound) {
				user = nil // deleted by the IdP: the member keeps its profile
			} else if err != nil {
				return err
			}
			if err := s.applyLifecycle(ctx, tx, p, org, h.userID, user, lifecycle.Event(h.event), audit.RequestID); err != nil {
				return err
			}
		}
		released = len(list)
		_, err = s.exec(ctx, tx, s.q(`DELETE FROM held_deprovisions WHERE org = ?`), org)
		return err
	})
	return released, err
}

type heldDeprovision struct{ userID, event string }

// heldList reads an organization's held deprovisionings inside the transaction (PostgreSQL
// writers run concurrently: a row read outside could be deleted unapplied).
func (s *Store) heldList(ctx context.Context, tx *sql.Tx, org string) ([]heldDeprovision, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT user_id, event FROM held_deprovisions WHERE org = ? ORDER BY seq`), org)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var list []heldDeprovision
	for rows.Next() {
		var h heldDeprovision
		if err := rows.Scan(&h.userID, &h.event); err != nil {
			return nil, err
		}
		list = append(list, h)
	}
	return list, rows.Err()
}

// refuseTakeover refuses a SCIM user whose userName belongs to a member SCIM did not create.
func (s *Store) refuseTakeover(ctx context.Context, tx *sql.Tx, org, userName string) error {
	var n int
	if err := s.queryRow(ctx, tx, s.q(`SELECT COUNT(*) FROM members WHERE org = ? AND user_name_lower = ? AND source <> 'scim'`),
		org, strings.ToLower(userName)).Scan(&n); err != nil {
		return fmt.Errorf("checking for an existing member: %w", err)
	}
	if n > 0 {
		return store.ErrTakeover
	}
	return nil
}
