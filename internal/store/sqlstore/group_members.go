package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// addMember links a User or Group of the same organization to a group and reports whether it was
// not a member yet; adding an existing member is a no-op. The member's display comes from the
// member itself.
func (s *Store) addMember(ctx context.Context, tx *sql.Tx, org, groupID, memberID string) (bool, error) {
	for _, src := range []struct {
		kind    store.Kind
		display string
	}{{store.KindUser, "COALESCE(display_name, name)"}, {store.KindGroup, "name"}} {
		res, err := s.exec(ctx, tx, s.q(s.d.insertIgnore(`INSERT INTO scim_group_members (org, group_id, member_id, member_type, display)
			SELECT org, ?, id, ?, `+src.display+` FROM `+table(src.kind)+` WHERE org = ? AND id = ?`)), groupID, string(src.kind), org, memberID)
		if err != nil {
			return false, fmt.Errorf("adding member %s: %w", memberID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return true, nil
		}
		// Nothing inserted: either already a member, or not of this kind.
		var exists int
		err = s.queryRow(ctx, tx, s.q(`SELECT 1 FROM `+table(src.kind)+` WHERE org = ? AND id = ?`), org, memberID).Scan(&exists)
		if err == nil {
			return false, nil
		}
		if err != sql.ErrNoRows {
			return false, fmt.Errorf("looking up member %s: %w", memberID, err)
		}
	}
	return false, &store.InvalidMemberError{ID: memberID}
}

// changeMembers applies a group's member change and returns the members it really added and
// removed (a replaced list counts only the difference).
func (s *Store) changeMembers(ctx context.Context, tx *sql.Tx, org, groupID string, c *store.MemberChange) (added, removed []string, err error) {
	var before []string
	if c.Replace {
		if before, err = s.column(ctx, tx, `SELECT member_id FROM scim_group_members WHERE org = ? AND group_id = ?`, org, groupID); err != nil {
			return nil, nil, fmt.Errorf("reading members of %s: %w", groupID, err)
		}
		if _, err := s.exec(ctx, tx, s.q(`DELETE FROM scim_group_members WHERE org = ? AND group_id = ?`), org, groupID); err != nil {
			return nil, nil, fmt.Errorf("clearing members of %s: %w", groupID, err)
		}
	}
	for _, id := range c.Remove {
		res, err := s.exec(ctx, tx, s.q(`DELETE FROM scim_group_members WHERE org = ? AND group_id = ? AND member_id = ?`), org, groupID, id)
		if err != nil {
			return nil, nil, fmt.Errorf("removing member %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			removed = append(removed, id)
		}
	}
	for _, id := range c.Add {
		if id == groupID {
			return nil, nil, &store.InvalidMemberError{ID: id}
		}
		inserted, err := s.addMember(ctx, tx, org, groupID, id)
		if err != nil {
			return nil, nil, err
		}
		if inserted {
			added = append(added, id)
		}
	}
	if c.Replace {
		added, removed = difference(added, before), difference(before, added)
	}
	return added, removed, nil
}

// difference is a without the elements of b.
func difference(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, v := range b {
		in[v] = true
	}
	var out []string
	for _, v := range a {
		if !in[v] {
			out = append(out, v)
		}
	}
	return out
}

// refreshMemberDisplay keeps the display of a renamed user current in its groups.
func (s *Store) refreshMemberDisplay(ctx context.Context, tx *sql.Tx, org string, r *store.Resource) error {
	display := r.DisplayName
	if display == "" {
		display = r.Name
	}
	if _, err := s.exec(ctx, tx, s.q(`UPDATE scim_group_members SET display = ? WHERE org = ? AND member_id = ?`), display, org, r.ID); err != nil {
		return fmt.Errorf("updating member display of %s: %w", r.ID, err)
	}
	return nil
}

// Members returns the members of each group.
func (s *Store) Members(ctx context.Context, org string, groupIDs []string) (map[string][]store.Member, error) {
	out := map[string][]store.Member{}
	for _, chunk := range chunks(groupIDs, 500) {
		err := s.eachRow(ctx, `SELECT group_id, member_id, member_type, COALESCE(display, '') FROM scim_group_members
			WHERE org = ? AND group_id IN (`+inList(len(chunk))+`) ORDER BY group_id, member_id`, append([]any{org}, stringsToAny(chunk)...),
			func(scan func(...any) error) error {
				var g, m, t, d string
				if err := scan(&g, &m, &t, &d); err != nil {
					return err
				}
				out[g] = append(out[g], store.Member{Value: m, Type: store.Kind(t), Display: d})
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("listing members: %w", err)
		}
	}
	return out, nil
}

// GroupsOf returns, for each member, the groups that directly contain it, with their current names.
func (s *Store) GroupsOf(ctx context.Context, org string, memberIDs []string) (map[string][]store.Member, error) {
	out := map[string][]store.Member{}
	for _, chunk := range chunks(memberIDs, 500) {
		// CROSS JOIN makes SQLite walk the member index first; joining the other way round scans
		// every member of a large group for each lookup. PostgreSQL plans it as an inner join.
		err := s.eachRow(ctx, `SELECT m.member_id, g.id, g.name FROM scim_group_members m
			CROSS JOIN scim_groups g
			WHERE g.org = m.org AND g.id = m.group_id AND m.org = ? AND m.member_id IN (`+inList(len(chunk))+`)
			ORDER BY g.seq`, append([]any{org}, stringsToAny(chunk)...),
			func(scan func(...any) error) error {
				var member, group, name string
				if err := scan(&member, &group, &name); err != nil {
					return err
				}
				out[member] = append(out[member], store.Member{Value: group, Type: store.KindGroup, Display: name})
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("listing groups of members: %w", err)
		}
	}
	return out, nil
}

// eachRow runs a query and calls row for every result row.
func (s *Store) eachRow(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error {
	rows, err := s.query(ctx, s.q(query), args...)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func inList(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func chunks(ids []string, size int) [][]string {
	var out [][]string
	for len(ids) > size {
		out = append(out, ids[:size])
		ids = ids[size:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}
