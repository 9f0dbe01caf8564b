package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// updateSet is the SET list of a resource's UPDATE and the UPDATE's arguments (the SET list's,
// then the WHERE clause's org, id and version read). An indexed column (the name, externalId,
// email) is set only when it changes: SQLite rewrites an index's entry whenever one of its columns
// is SET, even to the value it holds, and for an organization of 100,000 users those entries lie
// on pages no other write of the commit touches, each one more page to log and checkpoint
// (docs/performance.md). Leaving them out is safe because the UPDATE applies only at the version
// current was read at, whose row holds current's values.
func (s *Store) updateSet(current, next *store.Resource) (string, []any) {
	var set strings.Builder
	args := make([]any, 0, 12)
	if next.Name != current.Name {
		set.WriteString(`name = ?, name_lower = ?, `)
		args = append(args, next.Name, strings.ToLower(next.Name))
	}
	if next.ExternalID != current.ExternalID {
		set.WriteString(`external_id = ?, `)
		args = append(args, nullString(next.ExternalID))
	}
	// The stored column is the lowercase email: compare that (EqualFold would call "ſ" and "s" equal).
	if email := strings.ToLower(next.Email); email != strings.ToLower(current.Email) {
		set.WriteString(`email_lower = ?, `)
		args = append(args, nullString(email))
	}
	set.WriteString(`display_name = ?, active = ?, doc = ` + s.d.doc() + `, modified_us = ?, version = ?`)
	args = append(args, nullString(next.DisplayName), s.d.columnBool(next.Active), string(next.Doc), next.Modified.UnixMicro(), next.Version,
		next.Org, next.ID, current.Version)
	return set.String(), args
}

// updateRow writes next over the row at current's version: ErrVersionMismatch when another write came
// first, ErrNotFound when the resource is gone. The row it locks is the row it checks: on
// PostgreSQL, an UPDATE that waited for a concurrent writer checks the version that writer left.
//
// withMember (a user's write under a provisioning policy, on PostgreSQL) also reads and locks the
// user's member in the UPDATE's statement, after the user's row (readMemberAhead): one round trip
// less on every PATCH and PUT. Elsewhere the caller reads the member after the UPDATE.
func (s *Store) updateRow(ctx context.Context, tx *sql.Tx, current, next *store.Resource, withMember bool) (*readAhead, error) {
	set, args := s.updateSet(current, next)
	update := `UPDATE ` + table(next.Kind) + ` SET ` + set + ` WHERE org = ? AND id = ? AND version = ?`
	var (
		n     int64
		ahead *readAhead
		err   error
	)
	if withMember && next.Kind == store.KindUser && s.d.name() == "postgres" {
		ahead, n, err = s.readMemberAhead(ctx, tx, memberRead{before: `u AS (` + update + ` RETURNING 1), `, first: `(SELECT count(*) FROM u)`, args: args}, next)
	} else {
		var res sql.Result
		if res, err = s.exec(ctx, tx, s.q(update), args...); err == nil {
			n, err = res.RowsAffected()
		}
	}
	if s.d.isUniqueViolation(err) {
		return nil, store.ErrUniqueness
	}
	if err != nil {
		return nil, fmt.Errorf("updating %s %s: %w", next.Kind, next.ID, err)
	}
	if n == 1 {
		return ahead, nil
	}
	// Rare: tell a lost race from a deleted resource.
	if _, err := s.get(ctx, tx, next.Org, next.Kind, next.ID, ""); err != nil {
		return nil, err
	}
	return nil, store.ErrVersionMismatch
}

// memberRead is what readMemberAhead puts around its read of a member.
type memberRead struct {
	before, first string // a WITH query u ahead of the read, and the read's first column (about u)
	args          []any  // before's and first's
	// groups is the user's groups as the write leaves them, when u changes them (a group's
	// member change); "" reads them as they are (userGroups).
	groups string
	// userDoc reads the user's document too: a group's write does not have it.
	userDoc bool
}

// readMemberAhead reads the member of the user next (FOR UPDATE on PostgreSQL), its userName, its
// employee record and the user's groups; before and first (with firstArgs) put a statement ahead
// of the read and its first column (PostgreSQL: the UPDATE, and how many rows it changed). A
// locking clause may not name the nullable side of an outer join, so the member is locked in its
// own WITH query, joined to a one-row relation r that userGroups reads; it waits for u (the
// UPDATE) to have locked the user's row, the order every write locks them in.
//
// A member locked after waiting for another write is its newest version, but the statement's
// employee record and groups are from before that write. PostgreSQL tells it: the locked row's
// xmin differs from the one the statement's snapshot sees. readMemberAhead then returns no
// read-ahead, and Update reads it again in a statement of its own: its snapshot is after the wait,
// and the member is already this write's.
func (s *Store) readMemberAhead(ctx context.Context, tx *sql.Tx, r memberRead, next *store.Resource) (*readAhead, int64, error) {
	before, first, firstArgs := r.before, r.first, r.args
	groups, doc := s.d.userGroupsUpTo(snapshotGroupsRead), "NULL" // the groups are the snapshot's
	if r.groups != "" {
		groups = r.groups
	}
	if r.userDoc {
		doc = `(SELECT doc::text FROM scim_users WHERE org = r.org AND id = r.id)`
	}
	afterU, lockedVersion, seenVersion := "", "''", "''"
	if before != "" {
		afterU = " AND EXISTS (SELECT 1 FROM u)"
	}
	if s.d.name() == "postgres" {
		lockedVersion, seenVersion = "m.xmin::text", "(SELECT xmin::text FROM members WHERE org = r.org AND user_id = r.id)"
	}
	query := `WITH ` + before + `m AS (SELECT ` + memberColumns + `, m.user_name, ` + employeeColumns + `, ` + lockedVersion + ` AS locked_version
			FROM members m LEFT JOIN employee_records e ON e.org = m.org AND e.user_id = m.user_id
			WHERE m.org = ? AND m.user_id = ?` + afterU + s.d.forUpdateOf("m") + `)
		SELECT ` + first + `, m.*, ` + groups + `, ` + seenVersion + `, ` + doc + `
		FROM (SELECT CAST(? AS text) AS org, CAST(? AS text) AS id) AS r LEFT JOIN m ON true`
	var (
		n                                 int64
		state, role, userName, groupList  sql.NullString
		userDoc                           sql.NullString
		approved, deleted, active, record any
		profile                           [8]sql.NullString
		locked, seen                      sql.NullString
	)
	dest := append([]any{&n, &state, &role, &approved, &deleted, &active, &userName, &record}, profileDest(&profile)...)
	dest = append(dest, &locked, &groupList, &seen, &userDoc)
	if err := s.queryRow(ctx, tx, s.q(query), append(firstArgs, next.Org, next.ID, next.Org, next.ID)...).Scan(dest...); err != nil {
		return nil, 0, err
	}
	if locked.String != seen.String {
		readAheadsGivenUp.Add(1)
		return nil, n, nil // waited for another write of the member: read it all again
	}
	ahead := &readAhead{org: next.Org, userID: next.ID, member: memberOf(state, role, approved, deleted, active), hasMember: true}
	if r.userDoc && userDoc.Valid {
		user := *next
		user.Doc = []byte(userDoc.String)
		next = &user
	}
	if state.Valid && !readBackSnapshots.Load() && (!r.userDoc || userDoc.Valid) {
		ahead.user = next
		ahead.saved = &savedMember{userName: userName.String, state: provisioning.State(state.String), role: role.String,
			employee: employeeOf(record, profile)}
		if groupList.Valid {
			var err error
			if ahead.groups, err = groupRefs(groupList.String); err != nil {
				return nil, 0, err
			}
		}
	}
	return ahead, n, nil
}

// readAheadsGivenUp counts read-aheads given up because the member changed while the statement
// waited for it (tests check the path is taken).
var readAheadsGivenUp atomic.Int64
