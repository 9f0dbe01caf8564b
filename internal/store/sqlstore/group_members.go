package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

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

// maxMembersRemoved is store.MaxMembersRemovedPerWrite (a variable for tests).
var maxMembersRemoved = store.MaxMembersRemovedPerWrite

// changeMembers applies a group's member change and returns the members it really added and
// removed (a replaced list counts only the difference).
func (s *Store) changeMembers(ctx context.Context, tx *sql.Tx, org, groupID string, c *store.MemberChange) (added, removed []string, err error) {
	var before []string
	if c.Replace {
		// More members than it keeps plus the most one write may remove: refused before reading
		// or removing them all (store.MaxMembersRemovedPerWrite).
		most := maxMembersRemoved + len(c.Add)
		if before, err = s.column(ctx, tx, `SELECT member_id FROM scim_group_members WHERE org = ? AND group_id = ? LIMIT ?`,
			org, groupID, most+1); err != nil {
			return nil, nil, fmt.Errorf("reading members of %s: %w", groupID, err)
		}
		if len(before) > most {
			return nil, nil, store.ErrTooManyRemoved
		}
		if _, err := s.exec(ctx, tx, s.q(`DELETE FROM scim_group_members WHERE org = ? AND group_id = ?`), org, groupID); err != nil {
			return nil, nil, fmt.Errorf("clearing members of %s: %w", groupID, err)
		}
	}
	if removed, err = s.removeMembers(ctx, tx, org, groupID, c.Remove); err != nil {
		return nil, nil, err
	}
	if added, err = s.addMembers(ctx, tx, org, groupID, c.Add); err != nil {
		return nil, nil, err
	}
	if c.Replace {
		added, removed = difference(added, before), difference(before, added)
		if len(removed) > maxMembersRemoved {
			return nil, nil, store.ErrTooManyRemoved
		}
	}
	return added, removed, nil
}

// addMembers links users or groups of the organization to a group, in order, and returns the ones
// that were not members yet, each once; an id naming neither, or the group itself, fails the
// change (InvalidMemberError, the first such id). On PostgreSQL several ids go in one statement
// per 500, and one more statement, only when some id was not added, tells a member already there
// from an id that names nothing: a change of a hundred members was a hundred round trips, 38 ms
// p50, and is 9 ms (docs/performance.md). One id keeps addMember's statements, as on SQLite,
// where a statement each, in the process, costs less than building one.
func (s *Store) addMembers(ctx context.Context, tx *sql.Tx, org, groupID string, ids []string) ([]string, error) {
	var added []string
	if s.d.name() != "postgres" || len(ids) == 1 {
		for _, id := range ids {
			if id == groupID {
				return nil, &store.InvalidMemberError{ID: id}
			}
			inserted, err := s.addMember(ctx, tx, org, groupID, id)
			if err != nil {
				return nil, err
			}
			if inserted {
				added = append(added, id)
			}
		}
		return added, nil
	}
	others := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == groupID })
	inserted := make(map[string]bool, len(ids))
	for _, chunk := range chunks(others) {
		// A user before a group of the same id, as addMember tries them. LATERAL keeps one index
		// lookup per id: a generic plan cannot know how many ids come (as in lookups.go).
		got, err := s.column(ctx, tx, `INSERT INTO scim_group_members (org, group_id, member_id, member_type, display)
			SELECT u.org, ?, u.id, ?, COALESCE(u.display_name, u.name) FROM unnest(?::text[]) AS k(id)
				CROSS JOIN LATERAL (SELECT org, id, display_name, name FROM scim_users WHERE org = ? AND id = k.id) AS u
			UNION ALL
			SELECT g.org, ?, g.id, ?, g.name FROM unnest(?::text[]) AS k(id)
				CROSS JOIN LATERAL (SELECT org, id, name FROM scim_groups WHERE org = ? AND id = k.id) AS g
				WHERE NOT EXISTS (SELECT 1 FROM scim_users u WHERE u.org = g.org AND u.id = g.id)
			ON CONFLICT DO NOTHING RETURNING member_id`,
			groupID, string(store.KindUser), chunk, org, groupID, string(store.KindGroup), chunk, org)
		if err != nil {
			return nil, fmt.Errorf("adding members to %s: %w", groupID, err)
		}
		for _, id := range got {
			inserted[id] = true
		}
	}
	var rest []string // not added, in order: members already, or invalid
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		switch {
		case seen[id]:
		case inserted[id]:
			added = append(added, id)
		default:
			rest = append(rest, id)
		}
		seen[id] = true
	}
	if len(rest) == 0 {
		return added, nil
	}
	exists := make(map[string]bool, len(rest))
	for _, chunk := range chunks(rest) {
		got, err := s.column(ctx, tx, `SELECT k.id FROM unnest(?::text[]) AS k(id)
			WHERE EXISTS (SELECT 1 FROM scim_users WHERE org = ? AND id = k.id) OR EXISTS (SELECT 1 FROM scim_groups WHERE org = ? AND id = k.id)`,
			chunk, org, org)
		if err != nil {
			return nil, fmt.Errorf("looking up members of %s: %w", groupID, err)
		}
		for _, id := range got {
			exists[id] = true
		}
	}
	for _, id := range rest {
		if id == groupID || !exists[id] {
			return nil, &store.InvalidMemberError{ID: id}
		}
	}
	return added, nil
}

// removeMembers unlinks members from a group and returns the ones that were members, in order,
// each once; on PostgreSQL in one statement per 500 ids (see addMembers).
func (s *Store) removeMembers(ctx context.Context, tx *sql.Tx, org, groupID string, ids []string) ([]string, error) {
	var removed []string
	if s.d.name() != "postgres" || len(ids) == 1 {
		// One id (what identity providers mostly send) is one index lookup for any group size; the
		// batch's generic plan, not knowing how many ids come, may scan the group's members.
		for _, id := range ids {
			res, err := s.exec(ctx, tx, s.q(`DELETE FROM scim_group_members WHERE org = ? AND group_id = ? AND member_id = ?`), org, groupID, id)
			if err != nil {
				return nil, fmt.Errorf("removing member %s: %w", id, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				removed = append(removed, id)
			}
		}
		return removed, nil
	}
	deleted := make(map[string]bool, len(ids))
	for _, chunk := range chunks(ids) {
		got, err := s.column(ctx, tx, `DELETE FROM scim_group_members WHERE org = ? AND group_id = ? AND member_id = ANY(?::text[])
			RETURNING member_id`, org, groupID, chunk)
		if err != nil {
			return nil, fmt.Errorf("removing members of %s: %w", groupID, err)
		}
		for _, id := range got {
			deleted[id] = true
		}
	}
	for _, id := range ids {
		if deleted[id] {
			removed = append(removed, id)
			delete(deleted, id) // each once
		}
	}
	return removed, nil
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

// Members returns the members of each group, by member id, reading at most limit in all
// (store.Store): a group of a million members is read as far as the limit, never whole.
func (s *Store) Members(ctx context.Context, org string, groupIDs []string, limit int) (map[string][]store.Member, int, error) {
	return s.boundedMemberships(ctx, org, groupIDs, limit, groupMembers)
}

// GroupsOf returns, for each member, the groups that directly contain it, with their current
// names, in group id order as userGroups, reading at most limit in all (store.Store).
func (s *Store) GroupsOf(ctx context.Context, org string, memberIDs []string, limit int) (map[string][]store.Member, int, error) {
	return s.boundedMemberships(ctx, org, memberIDs, limit, memberGroups)
}

// membershipQuery reads memberships seen from one side: a group's members, or a member's groups.
type membershipQuery struct {
	// selectFrom reads columns key, value, type and display, for the key column compared with
	// ids after its last condition; its parameters are the organization, twice (its rows, and
	// membersAreThere: a deleted member's memberships waiting for the group worker are not read).
	selectFrom, key string
}

// args are q's parameters: the organization's, then rest.
func (q membershipQuery) args(org string, rest ...any) []any {
	return append([]any{org, org}, rest...)
}

var (
	groupMembers = membershipQuery{
		selectFrom: `SELECT m.group_id, m.member_id, m.member_type, COALESCE(m.display, '') FROM scim_group_members m WHERE m.org = ?` +
			membersAreThere,
		key: "m.group_id",
	}
	// CROSS JOIN makes SQLite walk the member index first; joining the other way round scans
	// every member of a large group for each lookup. PostgreSQL plans it as an inner join.
	memberGroups = membershipQuery{
		selectFrom: `SELECT m.member_id, g.id, 'Group', g.name FROM scim_group_members m CROSS JOIN scim_groups g
			WHERE g.org = m.org AND g.id = m.group_id AND m.org = ?` + membersAreThere,
		key: "m.member_id",
	}
)

// boundedMemberships reads the memberships of ids, at most limit in all, and returns how many
// ids, from the first, have all theirs read. The common case is one statement per 500 ids,
// stopped after limit+1 rows; only when the ids together pass the limit are they read one by one,
// in order, each as far as what is left of it. The statements are not ordered, so that their
// LIMIT stops them early: the lists are sorted here.
func (s *Store) boundedMemberships(ctx context.Context, org string, ids []string, limit int, q membershipQuery) (map[string][]store.Member, int, error) {
	out := map[string][]store.Member{}
	read := 0
	for _, chunk := range chunks(ids) {
		n, err := s.readMemberships(ctx, out, q, ` AND `+q.key+` IN (`+inList(len(chunk))+`)`, q.args(org, stringsToAny(chunk)...), limit-read+1)
		if err != nil {
			return nil, 0, err
		}
		if read += n; read > limit {
			return s.membershipsOneByOne(ctx, org, ids, limit, q)
		}
	}
	return sortedMemberships(out), len(ids), nil
}

// membershipsOneByOne is boundedMemberships for ids that together pass the limit.
func (s *Store) membershipsOneByOne(ctx context.Context, org string, ids []string, limit int, q membershipQuery) (map[string][]store.Member, int, error) {
	out := map[string][]store.Member{}
	for i, id := range ids {
		n, err := s.readMemberships(ctx, out, q, ` AND `+q.key+` = ?`, q.args(org, id), limit+1)
		if err != nil {
			return nil, 0, err
		}
		if n > limit {
			delete(out, id)
			return sortedMemberships(out), i, nil
		}
		limit -= n
	}
	return sortedMemberships(out), len(ids), nil
}

// readMemberships adds at most most memberships of q's statement completed by where to out, and
// returns how many it read.
func (s *Store) readMemberships(ctx context.Context, out map[string][]store.Member, q membershipQuery, where string, args []any, most int) (int, error) {
	read := 0
	err := s.eachRow(ctx, q.selectFrom+where+` LIMIT ?`, append(args, most), func(scan func(...any) error) error {
		var key, value, kind, display string
		if err := scan(&key, &value, &kind, &display); err != nil {
			return err
		}
		out[key] = append(out[key], store.Member{Value: value, Type: store.Kind(kind), Display: display})
		read++
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("listing memberships: %w", err)
	}
	return read, nil
}

// sortedMemberships orders each list by id: a group's members, and a user's groups as userGroups
// lists them.
func sortedMemberships(out map[string][]store.Member) map[string][]store.Member {
	for _, list := range out {
		slices.SortFunc(list, func(a, b store.Member) int { return strings.Compare(a.Value, b.Value) })
	}
	return out
}

// eachRow runs a query and calls row for every result row.
func (s *Store) eachRow(ctx context.Context, query string, args []any, row func(scan func(...any) error) error) error {
	rows, err := s.query(ctx, s.q(query), args...)
	if err != nil {
		return err
	}
	return eachOf(rows, row)
}

// eachRowIn is eachRow in tx, for a query in the dialect's form.
func eachRowIn(ctx context.Context, tx *sql.Tx, query string, args []any, row func(scan func(...any) error) error) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	return eachOf(rows, row)
}

// eachOf calls row for each of rows, and closes them.
func eachOf(rows *sql.Rows, row func(scan func(...any) error) error) error {
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// columnOutside reads a one-column result outside a transaction (column's twin).
func (s *Store) columnOutside(ctx context.Context, query string, args ...any) ([]string, error) {
	var out []string
	err := s.eachRow(ctx, query, args, func(scan func(...any) error) error {
		var v string
		if err := scan(&v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

func inList(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// maxIDsPerStatement bounds the ids one statement takes (chunks).
const maxIDsPerStatement = 500

// chunks cuts ids into runs of at most maxIDsPerStatement.
func chunks(ids []string) [][]string {
	const size = maxIDsPerStatement
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

// changeGroupMembers applies a group's member change and returns the members it really added and
// removed, and its member read ahead, if any. update, the group's own UPDATE, is given for a
// change of one member (oneMemberChange), which changeOneMember makes in one statement with it;
// any other change runs after the caller's UPDATE (changeMembers).
func (s *Store) changeGroupMembers(ctx context.Context, tx *sql.Tx, org, groupID string, c *store.MemberChange,
	update *groupUpdate) (added, removed []string, ahead *readAhead, err error) {
	if update != nil {
		return s.changeOneMember(ctx, tx, org, groupID, c, *update)
	}
	added, removed, err = s.changeMembers(ctx, tx, org, groupID, c)
	return added, removed, nil, err
}

// oneMemberChange reports a change changeOneMember makes: of one member, on PostgreSQL, under a
// provisioning policy.
func (s *Store) oneMemberChange(c *store.MemberChange, groupID string, w store.Write) bool {
	return w.Policy != nil && !readBackSnapshots.Load() && s.d.name() == "postgres" && !c.Replace && len(c.Add)+len(c.Remove) == 1 &&
		!slices.Contains(c.Add, groupID) && !slices.Contains(c.Remove, groupID)
}

// groupUpdatesWithTheirChange counts groups' UPDATEs made in their change of one member's
// statement (tests check the path is taken).
var groupUpdatesWithTheirChange atomic.Int64

// groupUpdate is a group's UPDATE at the version read (updateSet), for changeOneMember's statement.
type groupUpdate struct {
	set  string
	args []any
}

// changeOneMember makes a group's change of one member (oneMemberChange) in the statement that
// reads and locks the user's member for provisioning and for its event's snapshot
// (readMemberAhead), with the user's groups as the change leaves them, and with the group's own
// UPDATE (update) ahead of it: one round trip where the group's UPDATE, the change and the
// snapshot's read were three, for the change identity providers send most (Entra and Okta add and
// remove one member per request). The locks come in the order every write takes them: the
// group's row (the change waits for the UPDATE), its memberships', then the member's, locked as
// provisioning's LoadMember locks it. An id that names no user is left to addMember (a nested
// group, or none).
func (s *Store) changeOneMember(ctx context.Context, tx *sql.Tx, org, groupID string, c *store.MemberChange,
	update groupUpdate) (added, removed []string, ahead *readAhead, err error) {
	add, id := len(c.Add) == 1, ""
	if add {
		id = c.Add[0]
	} else {
		id = c.Remove[0]
	}
	// gu, the group's UPDATE: the change runs only after it changed the row (-2 when it did not).
	gu, afterGU := `gu AS (UPDATE scim_groups SET `+update.set+` WHERE org = ? AND id = ? AND version = ? RETURNING id, name), `, ` AND EXISTS (SELECT 1 FROM gu)`
	// The user's groups as the change leaves them, for the event's snapshot (as many as it keeps):
	// the statement's own reads see neither its u nor gu, the group's name if this write renames it.
	groups := func(from string) string {
		return postgresGroupsOf(from, snapshotGroupsRead, `COALESCE((SELECT gu.name FROM gu WHERE gu.id = g.id), g.name)`)
	}
	read := memberRead{first: `CASE WHEN NOT EXISTS (SELECT 1 FROM gu) THEN -2 ELSE (SELECT count(*) FROM u) END`, userDoc: true}
	if add {
		// 1 added, 0 a user already a member, -1 no such user: a redundant add (identity providers
		// send them) is answered here, without addMember's two statements after it.
		read.first = `CASE WHEN NOT EXISTS (SELECT 1 FROM gu) THEN -2 WHEN EXISTS (SELECT 1 FROM u) THEN 1
			WHEN EXISTS (SELECT 1 FROM scim_users WHERE org = r.org AND id = r.id) THEN 0 ELSE -1 END`
		read.before = gu + `u AS (INSERT INTO scim_group_members (org, group_id, member_id, member_type, display)
			SELECT org, ?, id, ?, COALESCE(display_name, name) FROM scim_users WHERE org = ? AND id = ?` + afterGU + `
			ON CONFLICT DO NOTHING RETURNING group_id), `
		read.args = append(update.args, groupID, string(store.KindUser), org, id)
		read.groups = groups(`SELECT group_id FROM scim_group_members WHERE org = r.org AND member_id = r.id UNION ALL SELECT group_id FROM u`)
	} else {
		read.before = gu + `u AS (DELETE FROM scim_group_members WHERE org = ? AND group_id = ? AND member_id = ?` + afterGU + ` RETURNING group_id), `
		read.args = append(update.args, org, groupID, id)
		read.groups = groups(`SELECT group_id FROM scim_group_members WHERE org = r.org AND member_id = r.id AND group_id NOT IN (SELECT group_id FROM u)`)
	}
	ahead, n, err := s.readMemberAhead(ctx, tx, read, &store.Resource{Org: org, Kind: store.KindUser, ID: id})
	switch {
	case s.d.isUniqueViolation(err):
		return nil, nil, nil, store.ErrUniqueness // as updateRow answers it
	case err != nil:
		return nil, nil, nil, fmt.Errorf("changing member %s of %s: %w", id, groupID, err)
	case n == -2:
		// Rare: the group changed or went since it was read. Tell a lost race from a deleted group.
		if _, err := s.get(ctx, tx, org, store.KindGroup, groupID, ""); err != nil {
			return nil, nil, nil, err
		}
		return nil, nil, nil, store.ErrVersionMismatch
	}
	groupUpdatesWithTheirChange.Add(1)
	switch {
	case n == 1 && add:
		return []string{id}, nil, ahead, nil
	case n == 1:
		return nil, []string{id}, ahead, nil
	case n == 0:
		return nil, nil, nil, nil // a member already, or not one: nothing to add or remove
	}
	// Nothing added, and nothing read (the read waits for u to change a row): an id that names no
	// user, which addMember tries as a group.
	inserted, err := s.addMember(ctx, tx, org, groupID, id)
	if err != nil || !inserted {
		return nil, nil, nil, err
	}
	return []string{id}, nil, nil, nil
}
