package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// snapshots builds the data of a write's events: its subjects as they are at the end of the
// write, read once per subject.
type snapshots struct {
	p       provisioningTx
	org     string
	members map[string]*store.MemberSnapshot
	groups  map[string]*store.GroupSnapshot
}

func newSnapshots(p provisioningTx, org string) *snapshots {
	return &snapshots{p: p, org: org, members: map[string]*store.MemberSnapshot{}, groups: map[string]*store.GroupSnapshot{}}
}

// data is an event's snapshot as stored (JSON).
func (s *snapshots) data(ctx context.Context, e provisioning.Event) (string, error) {
	d := store.EventData{Trigger: e.Trigger, PreviousRole: e.PreviousRole}
	if e.IsTransition() {
		d.PreviousState = e.From
	}
	var err error
	switch {
	case strings.HasPrefix(string(e.Type), "group."):
		d.Group, err = s.group(ctx, e.Subject, e.GroupNames)
	case strings.HasPrefix(string(e.Type), "membership."):
		if d.Group, err = s.group(ctx, e.Group, e.GroupNames); err == nil {
			d.Member, err = s.member(ctx, e.Subject)
		}
	default:
		d.Member, err = s.member(ctx, e.Subject)
	}
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(d)
	return string(b), err
}

func (s *snapshots) group(ctx context.Context, id string, names *provisioning.Group) (*store.GroupSnapshot, error) {
	if g, ok := s.groups[id]; ok {
		return g, nil
	}
	g := &store.GroupSnapshot{ID: id}
	if names != nil {
		g.DisplayName, g.ExternalID = names.DisplayName, names.ExternalID
	} else {
		if err := s.p.flush(ctx); err != nil { // the write's own rows, before reading them
			return nil, err
		}
		var external sql.NullString
		err := s.p.s.queryRow(ctx, s.p.tx, s.p.s.q(`SELECT name, external_id FROM scim_groups WHERE org = ? AND id = ?`), s.org, id).
			Scan(&g.DisplayName, &external)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("reading group %s for its event: %w", id, err)
		}
		g.ExternalID = external.String
	}
	s.groups[id] = g
	return g, nil
}

// member reads a member with its SCIM user, employee record and groups.
func (s *snapshots) member(ctx context.Context, id string) (*store.MemberSnapshot, error) {
	if m, ok := s.members[id]; ok {
		return m, nil
	}
	if m, ok := s.p.ahead.knownMember(s.org, id); ok {
		if s.p.speculation != nil {
			s.p.speculation.built++ // counted if it lands
		} else {
			builtFromWrites.Add(1)
		}
		s.members[id] = m
		return m, nil
	}
	if err := s.p.flush(ctx); err != nil { // the write's own rows, before reading them
		return nil, err
	}
	var ignored string
	row := s.p.s.queryRow(ctx, s.p.tx, s.p.s.q(memberSnapshotQuery(s.p.s.d, false, 1)), s.org, id)
	m, err := readMemberSnapshot(func(dest ...any) error { return row.Scan(append(dest, &ignored)...) }, id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		m = &store.MemberSnapshot{ID: id} // a nested group, or a user without a member (no policy)
	case err != nil:
		return nil, fmt.Errorf("reading member %s for its event: %w", id, err)
	}
	s.members[id] = m
	return m, nil
}

// prefetch reads, in one query per 500, the members the events' snapshots need that the write
// does not already know: a group change adding a hundred members read them one statement each.
func (s *snapshots) prefetch(ctx context.Context, events []provisioning.Event) error {
	if s.p.speculation != nil || noPrefetch.Load() {
		return nil // a one-statement create reads nothing (one_statement_create.go); tests compare both ways
	}
	var ids []string
	seen := map[string]bool{}
	for _, e := range events {
		id := e.Subject
		if e.DryRun || strings.HasPrefix(string(e.Type), "group.") || seen[id] || s.members[id] != nil || s.p.ahead.isKnown(s.org, id) {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if len(ids) < 2 {
		return nil // member reads one as it comes
	}
	if err := s.p.flush(ctx); err != nil { // the write's own rows, before reading them
		return err
	}
	for _, chunk := range chunks(ids) {
		if err := s.readMembers(ctx, chunk); err != nil {
			return fmt.Errorf("reading members for their events: %w", err)
		}
	}
	for _, id := range ids {
		if s.members[id] == nil {
			s.members[id] = &store.MemberSnapshot{ID: id} // a nested group, or a user without a member
		}
	}
	return nil
}

// readMembers reads the snapshots of the members of ids that exist, in one query.
func (s *snapshots) readMembers(ctx context.Context, ids []string) error {
	args := append([]any{s.org}, stringsToAny(ids)...)
	if s.p.s.d.name() == "postgres" {
		args = []any{ids, s.org}
	}
	rows, err := s.p.tx.QueryContext(ctx, s.p.s.q(memberSnapshotQuery(s.p.s.d, true, len(ids))), args...)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var id string
		m, err := readMemberSnapshot(func(dest ...any) error { return rows.Scan(append(dest, &id)...) }, "")
		if err != nil {
			return err
		}
		m.ID = id
		s.members[id] = m
		prefetchedMembers.Add(1)
	}
	return rows.Err()
}

// memberSnapshotQuery reads a member with its user, employee record and groups (userGroups reads
// r.org and r.id), of the user id given; with many (batch), of each id in an array (PostgreSQL:
// one index lookup per id, whatever the generic plan guesses of the array) or an IN list of n
// (SQLite), with the id as the last column.
func memberSnapshotQuery(d dialect, batch bool, n int) string {
	one := func(id string) string {
		// A deleted user is in no group, though its memberships may wait for the group worker
		// (MemberDeleted work, group_work.go).
		return `SELECT r.user_name, r.state, r.role, u.doc, ` + employeeColumns + `, CASE WHEN u.id IS NULL THEN NULL ELSE ` +
			d.userGroupsUpTo(snapshotGroupsRead) + ` END, r.id
		FROM (SELECT org, user_id AS id, user_name, state, role FROM members WHERE org = ? AND user_id ` + id + `) r
		LEFT JOIN scim_users u ON u.org = r.org AND u.id = r.id
		LEFT JOIN employee_records e ON e.org = r.org AND e.user_id = r.id`
	}
	switch {
	case !batch:
		return one("= ?")
	case d.name() == "postgres":
		return `SELECT x.* FROM unnest(?::text[]) AS k(id) CROSS JOIN LATERAL (` + one("= k.id") + `) AS x`
	default:
		return one("IN (" + inList(n) + ")")
	}
}

// readMemberSnapshot scans one row of memberSnapshotQuery.
func readMemberSnapshot(scan func(...any) error, id string) (*store.MemberSnapshot, error) {
	m := &store.MemberSnapshot{ID: id}
	var (
		userName, state, role, doc sql.NullString
		active                     any
		profile                    [8]sql.NullString
		groups                     sql.NullString
	)
	if err := scan(append([]any{&userName, &state, &role, &doc, &active}, append(profileDest(&profile), &groups)...)...); err != nil {
		return nil, err
	}
	m.UserName, m.State, m.Role = userName.String, provisioning.State(state.String), role.String
	m.Employee = employeeOf(active, profile)
	if doc.Valid {
		u := decodeUserDocument([]byte(doc.String))
		m.DisplayName, m.Name, m.Emails = u.DisplayName, u.Name, u.Emails
	}
	if groups.Valid {
		refs, err := groupRefs(groups.String)
		if err != nil {
			return nil, err
		}
		m.SetGroups(refs)
	}
	return m, nil
}

// noPrefetch lets a test read each member as its event comes, to compare both ways;
// prefetchedMembers counts the members read together (tests check the path is taken).
var (
	noPrefetch        atomic.Bool
	prefetchedMembers atomic.Int64
)

// readBackSnapshots lets a test turn off building a written user's snapshot from its write, to
// compare both ways; builtFromWrites counts the snapshots built so (tests check the path is taken).
var (
	readBackSnapshots atomic.Bool
	builtFromWrites   atomic.Int64
)

// memberFromWrite is the snapshot of a known user's member (read_ahead.go): what the snapshot
// query would read back, from what the write read and stored.
func memberFromWrite(id string, saved *savedMember, user *userDocument, groups []store.GroupRef) *store.MemberSnapshot {
	m := &store.MemberSnapshot{ID: id}
	if saved == nil {
		return m // no member: as the query finds no row
	}
	m.UserName, m.State, m.Role = saved.userName, saved.state, saved.role
	if saved.employee != nil {
		e := *saved.employee
		m.Employee = &e
	}
	m.DisplayName, m.Name, m.Emails = user.DisplayName, user.Name, user.Emails
	m.SetGroups(groups)
	return m
}

// employeeColumns are an employee record e as a snapshot reads it: active, then the profile in
// the order of profileDest.
const employeeColumns = `e.active, e.display_name, e.title, e.employee_number, e.department, e.cost_center, e.division, e.organization, e.manager_id`

func profileDest(p *[8]sql.NullString) []any {
	out := make([]any, len(p))
	for i := range p {
		out[i] = &p[i]
	}
	return out
}

// employeeOf is the record read with employeeColumns; nil when there is none (a NULL active).
func employeeOf(active any, p [8]sql.NullString) *store.EmployeeRecord {
	if active == nil {
		return nil
	}
	return &store.EmployeeRecord{Active: truthy(active), Profile: provisioning.Profile{DisplayName: p[0].String, Title: p[1].String,
		EmployeeNumber: p[2].String, Department: p[3].String, CostCenter: p[4].String, Division: p[5].String,
		Organization: p[6].String, ManagerID: p[7].String}}
}

// groupRefs reads userGroups' JSON array as a snapshot's groups.
func groupRefs(raw string) ([]store.GroupRef, error) {
	list, err := decodeGroups(raw)
	if err != nil {
		return nil, err
	}
	var out []store.GroupRef
	for _, g := range list {
		out = append(out, store.GroupRef{ID: g.Value, DisplayName: g.Display})
	}
	return out, nil
}
