package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
	if err := s.p.flush(ctx); err != nil { // the write's own rows, before reading them
		return "", err
	}
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
	m := &store.MemberSnapshot{ID: id}
	var (
		userName, state, role, doc   sql.NullString
		active                       any
		display, title, number, dept sql.NullString
		cost, division, orgName, mgr sql.NullString
	)
	err := s.p.s.queryRow(ctx, s.p.tx, s.p.s.q(`SELECT m.user_name, m.state, m.role, u.doc, e.active, e.display_name, e.title, e.employee_number,
		e.department, e.cost_center, e.division, e.organization, e.manager_id
		FROM members m LEFT JOIN scim_users u ON u.org = m.org AND u.id = m.user_id
		LEFT JOIN employee_records e ON e.org = m.org AND e.user_id = m.user_id WHERE m.org = ? AND m.user_id = ?`), s.org, id).
		Scan(&userName, &state, &role, &doc, &active, &display, &title, &number, &dept, &cost, &division, &orgName, &mgr)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		s.members[id] = m // a nested group, or a user without a member (no policy)
		return m, nil
	case err != nil:
		return nil, fmt.Errorf("reading member %s for its event: %w", id, err)
	}
	m.UserName, m.State, m.Role = userName.String, provisioning.State(state.String), role.String
	if active != nil {
		m.Employee = &store.EmployeeRecord{Active: truthy(active), Profile: provisioning.Profile{DisplayName: display.String, Title: title.String,
			EmployeeNumber: number.String, Department: dept.String, CostCenter: cost.String, Division: division.String,
			Organization: orgName.String, ManagerID: mgr.String}}
	}
	if doc.Valid {
		var u struct {
			DisplayName string            `json:"displayName"`
			Name        *store.PersonName `json:"name"`
			Emails      []store.Email     `json:"emails"`
		}
		_ = json.Unmarshal([]byte(doc.String), &u)
		m.DisplayName, m.Name, m.Emails = u.DisplayName, u.Name, u.Emails
	}
	groups, err := s.p.s.column2(ctx, s.p.tx, `SELECT g.id, g.name FROM scim_group_members gm CROSS JOIN scim_groups g
		WHERE g.org = gm.org AND g.id = gm.group_id AND gm.org = ? AND gm.member_id = ? ORDER BY g.seq`, s.org, id)
	if err != nil {
		return nil, fmt.Errorf("reading the groups of %s for its event: %w", id, err)
	}
	for _, g := range groups {
		m.Groups = append(m.Groups, store.GroupRef{ID: g[0], DisplayName: g[1]})
	}
	s.members[id] = m
	return m, nil
}

// column2 reads a two-column result inside a transaction.
func (s *Store) column2(ctx context.Context, tx *sql.Tx, query string, args ...any) ([][2]string, error) {
	rows, err := tx.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out [][2]string
	for rows.Next() {
		var v [2]string
		if err := rows.Scan(&v[0], &v[1]); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
