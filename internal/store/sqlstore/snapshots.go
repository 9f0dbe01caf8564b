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
	if saved, user, ok := s.p.ahead.savedMemberOf(s.org, id); ok {
		builtFromWrites.Add(1)
		m := memberFromWrite(id, saved, user)
		s.members[id] = m
		return m, nil
	}
	if err := s.p.flush(ctx); err != nil { // the write's own rows, before reading them
		return nil, err
	}
	m := &store.MemberSnapshot{ID: id}
	var (
		userName, state, role, doc   sql.NullString
		active                       any
		display, title, number, dept sql.NullString
		cost, division, orgName, mgr sql.NullString
	)
	var groups sql.NullString
	// One query for the member, its user, its record and its groups (userGroups reads r.org, r.id).
	err := s.p.s.queryRow(ctx, s.p.tx, s.p.s.q(`SELECT r.user_name, r.state, r.role, u.doc, e.active, e.display_name, e.title, e.employee_number,
		e.department, e.cost_center, e.division, e.organization, e.manager_id, `+s.p.s.d.userGroups()+`
		FROM (SELECT org, user_id AS id, user_name, state, role FROM members WHERE org = ? AND user_id = ?) r
		LEFT JOIN scim_users u ON u.org = r.org AND u.id = r.id
		LEFT JOIN employee_records e ON e.org = r.org AND e.user_id = r.id`), s.org, id).
		Scan(&userName, &state, &role, &doc, &active, &display, &title, &number, &dept, &cost, &division, &orgName, &mgr, &groups)
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
		m.DisplayName, m.Name, m.Emails = snapshotOfDoc(doc.String)
	}
	if groups.Valid {
		list, err := decodeGroups(groups.String)
		if err != nil {
			return nil, err
		}
		for _, g := range list {
			m.Groups = append(m.Groups, store.GroupRef{ID: g.Value, DisplayName: g.Display})
		}
	}
	s.members[id] = m
	return m, nil
}

// snapshotsFromWrites lets a test turn off building a created user's snapshot from its write, to
// compare both ways; builtFromWrites counts the snapshots built so (tests check the path is taken).
var (
	snapshotsFromWrites = true
	builtFromWrites     atomic.Int64
)

// memberFromWrite is the snapshot of a member whose user the write created: what the snapshot
// query would read back, from what the write stored (read_ahead.go). A new user is in no group.
func memberFromWrite(id string, saved *savedMember, user *store.Resource) *store.MemberSnapshot {
	m := &store.MemberSnapshot{ID: id}
	if saved == nil {
		return m // no member was stored: as the query finds no row
	}
	m.UserName, m.State, m.Role = saved.userName, saved.state, saved.role
	if saved.employee != nil {
		e := *saved.employee
		m.Employee = &e
	}
	m.DisplayName, m.Name, m.Emails = snapshotOfDoc(string(user.Doc))
	return m
}

// snapshotOfDoc reads what a member snapshot shows of a user document.
func snapshotOfDoc(doc string) (string, *store.PersonName, []store.Email) {
	var u struct {
		DisplayName string            `json:"displayName"`
		Name        *store.PersonName `json:"name"`
		Emails      []store.Email     `json:"emails"`
	}
	_ = json.Unmarshal([]byte(doc), &u)
	return u.DisplayName, u.Name, u.Emails
}
