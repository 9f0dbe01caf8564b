package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Member returns a member with its employee record and history.
func (s *Store) Member(ctx context.Context, org, userID string) (*store.MemberRecord, error) {
	if namesNothing(userID) {
		return nil, store.ErrNotFound
	}
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
	rec.Member.State, rec.Member.Approved, rec.Member.Deleted = provisioning.State(state), truthy(approved), truthy(deleted)
	rec.Member.EmployeeActive = truthy(active)
	rec.Created, rec.Modified = time.UnixMicro(created).UTC(), time.UnixMicro(modified).UTC()
	rec.Employee = store.EmployeeRecord{Active: truthy(active), Profile: provisioning.Profile{DisplayName: display.String, Title: title.String,
		EmployeeNumber: number.String, Department: dept.String, CostCenter: cost.String, Division: division.String, Organization: orgName.String,
		ManagerID: manager.String}}
	// The newest entries first, one more than kept to tell whether there were more.
	err = s.eachRow(ctx, `SELECT at_us, from_state, to_state, kind, reason, COALESCE(request_id, '') FROM member_history
		WHERE org = ? AND user_id = ? ORDER BY seq DESC LIMIT ?`, []any{org, userID, store.MaxMemberHistory + 1}, func(scan func(...any) error) error {
		var h store.HistoryEntry
		var at int64
		var from, to, kind string
		if err := scan(&at, &from, &to, &kind, &h.Reason, &h.RequestID); err != nil {
			return err
		}
		h.Time, h.From, h.To, h.Kind = time.UnixMicro(at).UTC(), provisioning.State(from), provisioning.State(to), provisioning.EventType(kind)
		rec.History = append(rec.History, h)
		return nil
	})
	if len(rec.History) > store.MaxMemberHistory {
		rec.History, rec.HistoryTruncated = rec.History[:store.MaxMemberHistory], true
	}
	slices.Reverse(rec.History) // oldest first
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

// ListMembers pages through an organization's members by user id.
func (s *Store) ListMembers(ctx context.Context, org string, q store.MemberQuery) ([]store.MemberRecord, string, error) {
	if namesNothing(q.State, q.After) {
		return nil, "", nil
	}
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
		rec.Member.State, rec.Member.Approved, rec.Member.Deleted = provisioning.State(state), truthy(approved), truthy(deleted)
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

// ReviewMember approves or rejects a member waiting for review (provisioning decides), with the
// admin's audit event, in one transaction.
func (s *Store) ReviewMember(ctx context.Context, org, userID string, approve bool, audit store.AuditEvent) (*store.MemberRecord, error) {
	if namesNothing(userID) {
		return nil, store.ErrNotFound
	}
	err := s.inFencedTx(ctx, org, audit.Binding, lockMember(userID), func(tx *sql.Tx) error {
		audit.Org, audit.ResourceType, audit.ResourceID = org, "Member", userID
		if err := s.insertAudit(ctx, tx, audit); err != nil {
			return err
		}
		pt := s.newProvisioningTx(tx)
		err := provisioning.Review(ctx, pt, org, userID, approve, originOf(&audit))
		if err == nil {
			err = pt.finish(ctx)
		}
		if errors.Is(err, provisioning.ErrNoMember) {
			return store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Member(ctx, org, userID)
}

// HeldDeprovisions counts the deprovisionings waiting for release.
func (s *Store) HeldDeprovisions(ctx context.Context, org string) (int64, error) {
	var n int64
	err := s.queryRow(ctx, nil, s.q(`SELECT COUNT(*) FROM held_deprovisions WHERE org = ?`), org).Scan(&n)
	return n, err
}

// ReleaseDeprovisions applies the deprovisionings held when it is called (provisioning decides),
// a transaction of provisioning.MembersPerTransaction at a time, oldest first, each recording the
// admin's release as far as it went. Interrupted, what it applied stays applied (counted, with
// the error) and the rest stays held, to be released again.
func (s *Store) ReleaseDeprovisions(ctx context.Context, org string, p provisioning.Policy, audit store.AuditEvent) (int, error) {
	var through sql.NullInt64
	if err := s.queryRow(ctx, nil, s.q(`SELECT MAX(seq) FROM held_deprovisions WHERE org = ?`), org).Scan(&through); err != nil {
		return 0, fmt.Errorf("reading held deprovisionings: %w", err)
	}
	released := 0
	for {
		n := 0
		err := s.inFencedTx(ctx, org, audit.Binding, lockAllMembers, func(tx *sql.Tx) error {
			pt := s.newProvisioningTx(tx)
			var err error
			n, err = provisioning.Release(ctx, pt, p, org, through.Int64, originOf(&audit))
			if err == nil {
				err = pt.finish(ctx)
			}
			if err != nil {
				return err
			}
			e := audit
			e.Org, e.Detail = org, fmt.Sprintf("Released %d held deprovisionings", released+n)
			if n == provisioning.MembersPerTransaction {
				e.Detail += " so far"
			}
			return s.insertAudit(ctx, tx, e)
		})
		if err != nil {
			return released, err
		}
		if released += n; n < provisioning.MembersPerTransaction {
			return released, nil
		}
	}
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
