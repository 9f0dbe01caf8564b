package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// A user's PATCH or PUT on PostgreSQL is one statement, in one round trip after its read, when
// nothing changed the user or its member between the read and the write. The read before the
// update (GetForUpdate, in the batched read by id) also reads the user's member, employee record
// and groups, and the member row's version (xmin). Provisioning runs on those with every statement
// held (pending_writes.go), as a create does (one_statement_create.go), and the UPDATE, the member,
// its record, history, audit rows and events go as one statement outside an explicit transaction:
// no BEGIN, no COMMIT, and no round trip for the UPDATE with its read of the member, where an
// update took two after its read.
//
// The statement checks its assumptions itself before anything else in it is written, in its x:
// the UPDATE (at the version read) changed the row, the member it then locks is the version read
// (a concurrent write of the member changes xmin, and the lock waits for it and sees the newest
// version), and the user's groups are the ones read. When one fails, nothing of it is written and
// the update runs the usual way (Store.Update), which reads the real answers under its locks. The
// locks come in the order every write takes them: the user's row (u), then the member (m, which
// waits for u).

// memberForUpdate is a user's member as the read before its update saw it.
type memberForUpdate struct {
	state, role, userName     sql.NullString
	approved, deleted, active any
	record                    any // the employee record's active; nil: no record
	profile                   [8]sql.NullString
	version                   sql.NullString // the member row's xmin
	groups                    string         // the user's groups, as userGroups reads them
}

// memberForUpdateColumns and memberForUpdateJoin read a user r's member for memberForUpdate.dest.
const (
	memberForUpdateColumns = memberColumns + `, m.user_name, ` + employeeColumns + `, m.xmin::text`
	memberForUpdateJoin    = `LEFT JOIN members m ON m.org = r.org AND m.user_id = r.id
		LEFT JOIN employee_records e ON e.org = m.org AND e.user_id = m.user_id`
)

func (m *memberForUpdate) dest() []any {
	dest := make([]any, 0, 16)
	dest = append(dest, &m.state, &m.role, &m.approved, &m.deleted, &m.active, &m.userName, &m.record)
	return append(append(dest, profileDest(&m.profile)...), &m.version)
}

// done is the member read with the user's groups, as Resource.ReadForUpdate: nil without a member.
func (m *memberForUpdate) done(groups string) any {
	if !m.state.Valid || !m.version.Valid {
		return nil
	}
	m.groups = groups
	return m
}

// oneStatementUpdates counts updates made in one statement (tests check the path is taken); those
// given up count in speculationsGivenUp.
var oneStatementUpdates atomic.Int64

// updateInOneStatement makes the update of user current to next in one statement, when current
// was read for it (GetForUpdate); done is false when it must run the usual way instead (nothing
// was written). A rename refreshes the user's display in its memberships, and a group's write
// changes members: both go the usual way.
func (s *Store) updateInOneStatement(ctx context.Context, current, next *store.Resource, change *store.Change, w store.Write) (
	res *store.Resource, done bool, err error) {
	read, ok := current.ReadForUpdate.(*memberForUpdate)
	if !ok || w.Policy == nil || readBackSnapshots.Load() || change.Members != nil || next.Name != current.Name ||
		next.DisplayName != current.DisplayName || guarded(*w.Policy, current, next) {
		return nil, false, nil
	}
	org, id := current.Org, current.ID
	groups, err := groupRefs(read.groups)
	if err != nil {
		return nil, false, nil //nolint:nilerr // the usual way reads them again
	}
	set, args := s.updateSet(current, next)
	spec := &speculation{args: append(args, org, id, read.version.String, org, id, read.groups)}
	spec.args = append(spec.args, bindingArgs(org, w.Binding)...)
	with := `u AS (UPDATE scim_users SET ` + set + ` WHERE org = ? AND id = ? AND version = ? RETURNING 1),
		m AS (SELECT xmin::text AS v FROM members WHERE org = ? AND user_id = ? AND EXISTS (SELECT 1 FROM u) FOR UPDATE),
		x AS MATERIALIZED (SELECT pg_current_xact_id() AS xid, 1 / (CASE WHEN (SELECT v FROM m) = ?
			AND (SELECT ` + s.d.userGroups() + ` FROM (SELECT CAST(? AS text) AS org, CAST(? AS text) AS id) AS r) = ?
			AND ` + bindingHeld + ` THEN 1 ELSE 0 END) AS ok)`

	p := s.newProvisioningTx(nil)
	p.speculation = spec
	member := memberOf(read.state, read.role, read.approved, read.deleted, read.active)
	p.ahead = &readAhead{org: org, userID: id, member: member, hasMember: true, user: next, groups: groups,
		saved: &savedMember{userName: read.userName.String, state: member.State, role: member.Role, employee: employeeOf(read.record, read.profile)}}
	if err := s.effectsOn(ctx, p, w, org, id, func(ptx provisioning.Tx, o provisioning.Origin) error {
		return provisioning.UserWritten(ctx, ptx, *w.Policy, provisioning.UserWrite{Org: org, UserID: id, Before: userBefore(current),
			After: userAfter(next, p.ahead), Origin: o})
	}); err != nil {
		// A decision made on assumed answers is not the write's: the usual way makes it again.
		speculationsGivenUp.Add(1)
		return nil, false, nil //nolint:nilerr // see above
	}
	// Ahead of it, the fence and the member's lock (member_locks.go): the statement's snapshot is
	// then taken after any other write of the member ended, and its check of the groups read sees
	// a group change that committed since.
	switch err := s.land(ctx, p, with, fenceAndMemberLockSQL, org, id); {
	case err == nil:
		oneStatementUpdates.Add(1)
		return next, true, nil
	case assumptionFailed(err) || s.d.isRetryable(err) || s.d.isUniqueViolation(err):
		// A lost race, a deleted user, a changed member or groups, a uniqueness conflict, an
		// organization released: the usual way tells them apart and answers each.
		speculationsGivenUp.Add(1)
		return nil, false, nil
	default:
		return nil, true, fmt.Errorf("updating user %s: %w", id, err)
	}
}

// guarded reports a deactivation under the mass-deprovisioning guard, which locks and counts in
// the database before it decides: one statement would be given up after provisioning's work.
func guarded(p provisioning.Policy, current, next *store.Resource) bool {
	return p.MaxDeprovisionsPerHour > 0 && !p.DryRun && current.Active && !next.Active
}
