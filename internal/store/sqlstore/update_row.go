package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// updateColumns is the SET list of a resource's UPDATE, in the order of updateArgs.
const updateColumns = `name = ?, name_lower = ?, external_id = ?, display_name = ?, email_lower = ?, active = ?, doc = `

func (s *Store) updateArgs(next *store.Resource, was int64) []any {
	return []any{next.Name, strings.ToLower(next.Name), nullString(next.ExternalID), nullString(next.DisplayName),
		nullString(strings.ToLower(next.Email)), s.d.columnBool(next.Active), string(next.Doc), next.Modified.UnixMicro(), next.Version,
		next.Org, next.ID, was}
}

// updateRow writes next over the row at version was: ErrVersionMismatch when another write came
// first, ErrNotFound when the resource is gone. The row it locks is the row it checks: on
// PostgreSQL, an UPDATE that waited for a concurrent writer checks the version that writer left.
//
// withMember (a user's write under a provisioning policy, on PostgreSQL) also reads and locks the
// user's member in the same statement, for provisioning's LoadMember that comes next: one round
// trip less on every PATCH and PUT. SQLite runs in the process and needs no such saving.
func (s *Store) updateRow(ctx context.Context, tx *sql.Tx, next *store.Resource, was int64, withMember bool) (*readAhead, error) {
	update := `UPDATE ` + table(next.Kind) + ` SET ` + updateColumns + s.d.doc() + `, modified_us = ?, version = ? WHERE org = ? AND id = ? AND version = ?`
	var (
		n      int64
		loaded *readAhead
		err    error
	)
	if withMember && next.Kind == store.KindUser && s.d.name() == "postgres" {
		loaded, n, err = s.updateLoadingMember(ctx, tx, update, next, was)
	} else {
		var res sql.Result
		if res, err = s.exec(ctx, tx, s.q(update), s.updateArgs(next, was)...); err == nil {
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
		return loaded, nil
	}
	// Rare: tell a lost race from a deleted resource.
	if _, err := s.get(ctx, tx, next.Org, next.Kind, next.ID, ""); err != nil {
		return nil, err
	}
	return nil, store.ErrVersionMismatch
}

// updateLoadingMember runs update and reads the member FOR UPDATE in one statement, with what
// the event snapshot needs besides the user: the member's userName, its employee record and the
// user's groups (read_ahead.go). A locking clause may not name the nullable side of an outer
// join, so the member is locked in its own WITH query, joined to a one-row relation r that
// userGroups reads.
func (s *Store) updateLoadingMember(ctx context.Context, tx *sql.Tx, update string, next *store.Resource, was int64) (*readAhead, int64, error) {
	query := `WITH u AS (` + update + ` RETURNING 1),
		m AS (SELECT ` + memberColumns + `, m.user_name, ` + employeeColumns + ` FROM members m
			LEFT JOIN employee_records e ON e.org = m.org AND e.user_id = m.user_id WHERE m.org = ? AND m.user_id = ? FOR UPDATE OF m)
		SELECT (SELECT count(*) FROM u), m.*, ` + s.d.userGroups() + ` FROM (SELECT CAST(? AS text) AS org, CAST(? AS text) AS id) AS r LEFT JOIN m ON true`
	var (
		n                                 int64
		state, role, userName, groups     sql.NullString
		approved, deleted, active, record any
		profile                           [8]sql.NullString
	)
	dest := append([]any{&n, &state, &role, &approved, &deleted, &active, &userName, &record}, append(profileDest(&profile), &groups)...)
	if err := s.queryRow(ctx, tx, s.q(query), append(s.updateArgs(next, was), next.Org, next.ID, next.Org, next.ID)...).Scan(dest...); err != nil {
		return nil, 0, err
	}
	ahead := &readAhead{org: next.Org, userID: next.ID, member: memberOf(state, role, approved, deleted, active), hasMember: true}
	if state.Valid && snapshotsFromWrites {
		ahead.user = next
		ahead.saved = &savedMember{userName: userName.String, state: provisioning.State(state.String), role: role.String,
			employee: employeeOf(record, profile)}
		if groups.Valid {
			var err error
			if ahead.groups, err = groupRefs(groups.String); err != nil {
				return nil, 0, err
			}
		}
	}
	return ahead, n, nil
}
