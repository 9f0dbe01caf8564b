package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// provisioningTx is provisioning.Tx on one SQL transaction: persistence only, no decisions.
type provisioningTx struct {
	s  *Store
	tx *sql.Tx
	w  *pendingWrites // PostgreSQL: writes held for the next statement (pending_writes.go); nil on SQLite
	// ahead is what the write's first statement read for provisioning (read_ahead.go).
	ahead *readAhead
	// speculation, for a write made in one statement, is what it assumed; every statement is
	// held until its end, and a read gives it up (one_statement_create.go).
	speculation *speculation
}

var _ provisioning.Tx = provisioningTx{}

func (p provisioningTx) exec(ctx context.Context, query string, args ...any) error {
	if err := p.flush(ctx); err != nil {
		return err
	}
	_, err := p.s.exec(ctx, p.tx, p.s.q(query), args...)
	return err
}

func (p provisioningTx) count(ctx context.Context, query string, args ...any) (int, error) {
	if err := p.flush(ctx); err != nil {
		return 0, err
	}
	var n int
	err := p.s.queryRow(ctx, p.tx, p.s.q(query), args...).Scan(&n)
	return n, err
}

// LockGuard takes a transaction-scoped advisory lock on PostgreSQL; SQLite has one writer.
func (p provisioningTx) LockGuard(ctx context.Context, org string) error {
	if p.s.d.name() != "postgres" {
		return nil
	}
	if err := p.flush(ctx); err != nil {
		return err
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("eio-deprovisioning-guard/" + org))
	if _, err := p.tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64())); err != nil { //nolint:gosec // a hash, wrapping is fine
		return fmt.Errorf("locking the deprovisioning guard of %s: %w", org, err)
	}
	return nil
}

func (p provisioningTx) LoadMember(ctx context.Context, org, userID string) (*provisioning.Member, error) {
	if m, ok := p.ahead.takeMember(org, userID); ok {
		return m, nil
	}
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	var (
		state, role               sql.NullString
		approved, deleted, active any
	)
	err := p.s.queryRow(ctx, p.tx, p.s.q(`SELECT `+memberColumns+`
		FROM members m LEFT JOIN employee_records e ON e.org = m.org AND e.user_id = m.user_id WHERE m.org = ? AND m.user_id = ?`+
		p.s.d.forUpdateOf("m")), org, userID).Scan(&state, &role, &approved, &deleted, &active)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading member %s: %w", userID, err)
	}
	return memberOf(state, role, approved, deleted, active), nil
}

// foreignMembers are the members not created by SCIM holding a userName (org, lowercase name).
const foreignMembers = `members WHERE org = ? AND user_name_lower = ? AND source <> 'scim'`

// memberColumns are what LoadMember reads of a member m and its employee record e.
const memberColumns = `m.state, m.role, m.approved, m.scim_deleted, COALESCE(e.active, m.approved)`

// memberOf builds a member from memberColumns; nil when there is none (a NULL state).
func memberOf(state, role sql.NullString, approved, deleted, active any) *provisioning.Member {
	if !state.Valid {
		return nil
	}
	return &provisioning.Member{State: provisioning.State(state.String), Role: role.String, Approved: truthy(approved),
		Deleted: truthy(deleted), EmployeeActive: truthy(active)}
}

func (p provisioningTx) SaveMember(ctx context.Context, org, userID, userName string, m provisioning.Member) error {
	stored := p.ahead.stored(org, userID) != nil
	p.ahead.memberSaved(org, userID, userName, m)
	now := time.Now().UTC().UnixMicro()
	w := heldWrite{table: "members", query: `INSERT INTO members (org, user_id, user_name, user_name_lower, state, role, approved, scim_deleted,
			created_us, modified_us, source)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'scim')
		ON CONFLICT (org, user_id) DO UPDATE SET user_name = CASE WHEN excluded.user_name = '' THEN members.user_name ELSE excluded.user_name END,
			user_name_lower = CASE WHEN excluded.user_name = '' THEN members.user_name_lower ELSE excluded.user_name_lower END,
			state = excluded.state, role = excluded.role, approved = excluded.approved, scim_deleted = excluded.scim_deleted,
			modified_us = excluded.modified_us`,
		args: []any{org, userID, userName, strings.ToLower(userName), string(m.State), m.Role, p.s.d.columnBool(m.Approved),
			p.s.d.columnBool(m.Deleted), now, now}}
	if stored {
		// The member's row is known to be there (read and locked ahead, or saved earlier in the
		// write): the upsert's UPDATE alone, which costs PostgreSQL less than the upsert.
		w.query, w.args = updateMember(userName, m, now, p.s.d.columnBool, org, userID)
	}
	if err := p.write(ctx, w); err != nil {
		return fmt.Errorf("recording member %s: %w", userID, err)
	}
	return nil
}

// updateMember is SaveMember's UPDATE of a member row that is there: an empty userName keeps the
// stored one, as the upsert does.
func updateMember(userName string, m provisioning.Member, now int64, columnBool func(bool) any, org, userID string) (string, []any) {
	set, args := "", make([]any, 0, 9)
	if userName != "" {
		set, args = "user_name = ?, user_name_lower = ?, ", append(args, userName, strings.ToLower(userName))
	}
	return `UPDATE members SET ` + set + `state = ?, role = ?, approved = ?, scim_deleted = ?, modified_us = ? WHERE org = ? AND user_id = ?`,
		append(args, string(m.State), m.Role, columnBool(m.Approved), columnBool(m.Deleted), now, org, userID)
}

func (p provisioningTx) SaveEmployee(ctx context.Context, org, userID string, active bool, profile *provisioning.Profile) error {
	var stored *store.EmployeeRecord
	if m := p.ahead.stored(org, userID); m != nil {
		stored = m.employee
	}
	p.ahead.employeeSaved(org, userID, active, profile)
	now := time.Now().UTC().UnixMicro()
	if stored != nil && profile != nil && *profile == stored.Profile {
		profile = nil // the stored record already holds this profile: only active changes
	}
	if profile == nil {
		return p.write(ctx, heldWrite{table: "employee_records", query: `UPDATE employee_records SET active = ?, modified_us = ? WHERE org = ? AND user_id = ?`,
			args: []any{p.s.d.columnBool(active), now, org, userID}})
	}
	e := profile
	err := p.write(ctx, heldWrite{table: "employee_records", query: `INSERT INTO employee_records (org, user_id, active, display_name, title,
			employee_number, department, cost_center,
			division, organization, manager_id, modified_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org, user_id) DO UPDATE SET active = excluded.active, display_name = excluded.display_name, title = excluded.title,
			employee_number = excluded.employee_number, department = excluded.department, cost_center = excluded.cost_center,
			division = excluded.division, organization = excluded.organization, manager_id = excluded.manager_id, modified_us = excluded.modified_us`,
		args: []any{org, userID, p.s.d.columnBool(active), nullString(e.DisplayName), nullString(e.Title), nullString(e.EmployeeNumber),
			nullString(e.Department), nullString(e.CostCenter), nullString(e.Division), nullString(e.Organization), nullString(e.ManagerID), now}})
	if err != nil {
		return fmt.Errorf("recording employee record %s: %w", userID, err)
	}
	return nil
}

func (p provisioningTx) AppendHistory(ctx context.Context, org, userID string, t provisioning.Transition, o provisioning.Origin) error {
	if err := p.write(ctx, heldWrite{table: "member_history", inserts: true, query: `INSERT INTO member_history (org, user_id, at_us, from_state,
		to_state, kind, reason, request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		args: []any{org, userID, o.Time.UnixMicro(), string(t.From), string(t.To), string(t.Type), t.Reason, o.RequestID}}); err != nil {
		return fmt.Errorf("recording member history: %w", err)
	}
	return nil
}

func (p provisioningTx) CountDeprovisionsSince(ctx context.Context, org string, since time.Time) (int, error) {
	n, err := p.count(ctx, `SELECT COUNT(*) FROM member_history WHERE org = ? AND kind IN (?, ?) AND at_us > ?`,
		org, string(provisioning.MemberSuspended), string(provisioning.MemberDeactivated), since.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("counting recent deprovisionings: %w", err)
	}
	return n, nil
}

func (p provisioningTx) CountHeld(ctx context.Context, org string) (int, error) {
	n, err := p.count(ctx, `SELECT COUNT(*) FROM held_deprovisions WHERE org = ?`, org)
	if err != nil {
		return 0, fmt.Errorf("counting held deprovisionings: %w", err)
	}
	return n, nil
}

func (p provisioningTx) Hold(ctx context.Context, org, userID string, trigger provisioning.Trigger, o provisioning.Origin) error {
	if err := p.write(ctx, heldWrite{table: "held_deprovisions", inserts: true,
		query: `INSERT INTO held_deprovisions (org, user_id, event, at_us, request_id) VALUES (?, ?, ?, ?, ?)`,
		args:  []any{org, userID, string(trigger), o.Time.UnixMicro(), o.RequestID}}); err != nil {
		return fmt.Errorf("holding a deprovisioning: %w", err)
	}
	return nil
}

// TakeHolds deletes the oldest holds up to through, at most limit, and returns exactly the rows
// deleted (RETURNING), oldest first.
func (p provisioningTx) TakeHolds(ctx context.Context, org string, through int64, limit int) ([]provisioning.Hold, error) {
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	rows, err := p.tx.QueryContext(ctx, p.s.q(`DELETE FROM held_deprovisions WHERE org = ? AND seq IN (
		SELECT seq FROM held_deprovisions WHERE org = ? AND seq <= ? ORDER BY seq LIMIT ?) RETURNING seq, user_id, event`),
		org, org, through, limit)
	if err != nil {
		return nil, fmt.Errorf("taking held deprovisionings: %w", err)
	}
	defer func() { _ = rows.Close() }()
	type held struct {
		seq  int64
		hold provisioning.Hold
	}
	var list []held
	for rows.Next() {
		var h held
		var trigger string
		if err := rows.Scan(&h.seq, &h.hold.UserID, &trigger); err != nil {
			return nil, err
		}
		h.hold.Trigger = provisioning.Trigger(trigger)
		list = append(list, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, b held) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]provisioning.Hold, 0, len(list))
	for _, h := range list {
		out = append(out, h.hold)
	}
	return out, nil
}

func (p provisioningTx) LoadUser(ctx context.Context, org, userID string) (*provisioning.User, error) {
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	r, err := p.s.get(ctx, p.tx, org, store.KindUser, userID, "")
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return userAfter(r, nil), nil
}

func (p provisioningTx) MemberNotFromSCIM(ctx context.Context, org, userName string) (bool, error) {
	if foreign, ok := p.ahead.takeForeign(org, strings.ToLower(userName)); ok {
		return foreign, nil
	}
	n, err := p.count(ctx, `SELECT COUNT(*) FROM `+foreignMembers, org, strings.ToLower(userName))
	if err != nil {
		return false, fmt.Errorf("checking for an existing member: %w", err)
	}
	return n > 0, nil
}

func (p provisioningTx) GroupsOf(ctx context.Context, org, id string, limit int) ([]provisioning.Group, error) {
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	rows, err := p.tx.QueryContext(ctx, p.s.q(`SELECT g.name, COALESCE(g.external_id, '') FROM scim_group_members m CROSS JOIN scim_groups g
		WHERE g.org = m.org AND g.id = m.group_id AND m.org = ? AND m.member_id = ? LIMIT ?`), org, id, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the groups of %s: %w", id, err)
	}
	defer func() { _ = rows.Close() }()
	var groups []provisioning.Group
	for rows.Next() {
		var g provisioning.Group
		if err := rows.Scan(&g.DisplayName, &g.ExternalID); err != nil {
			return nil, err
		}
		groups = append(groups, g)
	}
	return groups, rows.Err()
}

func (p provisioningTx) InGroupNamed(ctx context.Context, org, id, name string) (bool, error) {
	if err := p.flush(ctx); err != nil {
		return false, err
	}
	var in int
	err := p.s.queryRow(ctx, p.tx, p.s.q(inGroupNamedQuery(p.s.d)), org, strings.ToLower(name), org, name,
		provisioning.GroupsSharingAnExternalID, org, id).Scan(&in)
	if err != nil {
		return false, fmt.Errorf("looking up the groups of %s named %q: %w", id, name, err)
	}
	return in > 0, nil
}

// inGroupNamedQuery counts (0 or 1) the groups a mapping names (by name_lower, then by
// external_id: each half by its own index) that contain a member, looking each membership up
// by its key. Written as one condition, SQLite without statistics scanned the organization's
// groups, and PostgreSQL's generic plan read every membership of the member (found in review).
// Of the groups sharing the externalId it asks about provisioning.GroupsSharingAnExternalID, in
// the index's order of equal keys (on SQLite, the first created).
func inGroupNamedQuery(d dialect) string {
	named := `(SELECT id FROM scim_groups WHERE org = ? AND name_lower = ?
		UNION ALL SELECT id FROM (SELECT id FROM scim_groups WHERE org = ? AND external_id = ? LIMIT ?) e) k`
	if d.name() == "postgres" {
		return `SELECT COUNT(*) FROM (SELECT 1 FROM ` + named + ` CROSS JOIN LATERAL (SELECT 1 FROM scim_group_members m
			WHERE m.org = ? AND m.group_id = k.id AND m.member_id = ? OFFSET 0) x LIMIT 1) y`
	}
	return `SELECT COUNT(*) FROM (SELECT 1 FROM ` + named + ` CROSS JOIN scim_group_members m
		WHERE m.org = ? AND m.group_id = k.id AND m.member_id = ? LIMIT 1) y`
}

func (p provisioningTx) GroupMembers(ctx context.Context, org, groupID, after string, limit int) ([]string, error) {
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	return p.s.column(ctx, p.tx, `SELECT member_id FROM scim_group_members WHERE org = ? AND group_id = ? AND member_id > ?
		ORDER BY member_id LIMIT ?`, org, groupID, after, limit)
}

func (p provisioningTx) DeferRoleReview(ctx context.Context, org, groupID string, names provisioning.Group, origin provisioning.Origin) error {
	if err := p.flush(ctx); err != nil {
		return err
	}
	return p.s.deferGroupWork(ctx, p.tx, org, groupID, store.GroupRolesToReview, names, origin)
}

func (p provisioningTx) DeferMemberships(ctx context.Context, org, groupID string, names provisioning.Group, added, removed []string,
	origin provisioning.Origin) error {
	if err := p.flush(ctx); err != nil {
		return err
	}
	return p.s.deferMemberships(ctx, p.tx, org, groupID, names, added, removed, origin)
}

// userBefore is what provisioning needs of a user before a write: whether it was active.
func userBefore(r *store.Resource) *provisioning.User {
	return &provisioning.User{ID: r.ID, UserName: r.Name, Active: r.Active}
}

// userAfter is a user after a write, with the profile its employee record keeps; ahead (may be
// nil) decodes the document once for this and the member's snapshot when it holds the same user.
func userAfter(r *store.Resource, ahead *readAhead) *provisioning.User {
	return &provisioning.User{ID: r.ID, UserName: r.Name, Active: r.Active, Profile: ahead.documentOf(r).Profile()}
}
