// Package sqlstore implements store.Store on database/sql, for SQLite (modernc.org/sqlite, the
// embedded default) and PostgreSQL (pgx). Filters are translated to parameterised SQL.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Store is a SQL-backed store.Store.
type Store struct {
	db    *sql.DB
	d     dialect
	stmts *stmtCache // rebound query → prepared statement (stmts.go)
	// deletions makes deletions of one organization take turns (organization_deletion.go).
	deletions deletionLocks
	// committer, on SQLite, queues writers in the process and commits them in groups: SQLite
	// allows one writer, waiting on its busy handler sleeps in coarse steps, and each commit
	// pays an fsync (see groupcommit.go).
	committer *committer
	// numberer, on PostgreSQL, numbers events after their writes commit (numbering.go).
	numberer *numberer
	// lookups and reads, on PostgreSQL, answer concurrent reads of a user by userName and by id
	// with one statement for many (lookups.go).
	lookups, reads *lookupBatcher
	// readsForUpdate reads users by id with their members, for the update that follows.
	readsForUpdate *lookupBatcher
	// boundedStmts holds the statements of the reads whose work is bounded (bounded_reads.go).
	boundedStmts boundedReads
}

var _ store.Store = (*Store)(nil)

const resourceColumns = "r.id, r.external_id, r.name, r.display_name, r.email_lower, r.active, r.doc, r.created_us, r.modified_us, r.version"

func table(kind store.Kind) string {
	if kind == store.KindGroup {
		return "scim_groups"
	}
	return "scim_users"
}

// Close releases the database.
func (s *Store) Close() error {
	if s.committer != nil {
		s.committer.close()
	}
	if s.numberer != nil {
		s.numberer.close()
	}
	s.closeStatements()
	return s.db.Close()
}

// Ping checks that the database answers a query: a reachable PostgreSQL server that refuses
// work (a full disk, a dropped database) fails it too.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("the store does not answer: %w", err)
	}
	return nil
}

// DB exposes the database for the packages that share its transactions (audit, lifecycle).
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) q(query string) string { return s.d.rebind(query) }

// qShaped is q for a statement shaped by what a client sent (dialect.rebindShaped).
func (s *Store) qShaped(query string) string { return s.d.rebindShaped(query) }

// Create stores a new resource, its members and its effects in one transaction.
func (s *Store) Create(ctx context.Context, r *store.Resource, members []string, w store.Write) error {
	if s.d.name() == "postgres" && r.Kind == store.KindUser && len(members) == 0 {
		if done, err := s.createInOneStatement(ctx, r, w); done {
			return err
		}
	}
	locks := lockMember(r.ID) // a member left under the id
	switch {
	case w.Policy == nil:
		locks = memberLocks{} // no events
	case r.Kind == store.KindGroup:
		locks = lockMembers(members)
	}
	return s.inFencedTx(ctx, r.Org, w.Binding, locks, func(tx *sql.Tx) error {
		if r.Kind == store.KindGroup {
			if err := s.claimGroupName(ctx, tx, r.Org, r.ID, r.Name); err != nil {
				return err
			}
		}
		ahead, err := s.insert(ctx, tx, r, w.Policy != nil)
		if err != nil {
			return err
		}
		added, err := s.addMembers(ctx, tx, r.Org, r.ID, members)
		if err != nil {
			return err
		}
		counted(w, added, nil)
		return s.effectsLoaded(ctx, tx, w, r.Org, r.ID, ahead, func(ptx provisioning.Tx, o provisioning.Origin) error {
			if r.Kind == store.KindGroup {
				return provisioning.GroupWritten(ctx, ptx, *w.Policy, provisioning.GroupWrite{Org: r.Org, GroupID: r.ID, After: groupOf(r),
					Added: added, Origin: o})
			}
			return provisioning.UserWritten(ctx, ptx, *w.Policy, provisioning.UserWrite{Org: r.Org, UserID: r.ID, After: userAfter(r, ahead), Origin: o})
		})
	})
}

// insert stores a new resource. withForeign (a user under a provisioning policy) also asks
// whether a member not created by SCIM holds its userName (provisioning's takeover check) and
// whether a member or employee record is left under its id (none: its event snapshot is built
// from the write, read_ahead.go). On PostgreSQL that is the INSERT's own statement: two round
// trips less on every create.
func (s *Store) insert(ctx context.Context, tx *sql.Tx, r *store.Resource, withForeign bool) (*readAhead, error) {
	insert, args := s.insertStatement(r)
	withForeign = withForeign && r.Kind == store.KindUser
	var (
		ahead *readAhead
		err   error
	)
	if withForeign && s.d.name() == "postgres" {
		ahead, err = s.readCreatedAhead(ctx, tx, `WITH i AS (`+insert+` RETURNING 1) `, args, r)
	} else {
		if _, err = s.exec(ctx, tx, s.q(insert), args...); err == nil && withForeign {
			ahead, err = s.readCreatedAhead(ctx, tx, "", nil, r)
		}
	}
	if s.d.isUniqueViolation(err) {
		return nil, store.ErrUniqueness
	}
	if err != nil {
		return nil, fmt.Errorf("inserting %s: %w", r.Kind, err)
	}
	return ahead, nil
}

// insertStatement is the INSERT of a new resource and its arguments.
func (s *Store) insertStatement(r *store.Resource) (string, []any) {
	insert := `INSERT INTO ` + table(r.Kind) + `
		(org, id, name, name_lower, external_id, display_name, email_lower, active, doc, created_us, modified_us, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ` + s.d.doc() + `, ?, ?, ?)`
	return insert, []any{r.Org, r.ID, r.Name, strings.ToLower(r.Name), nullString(r.ExternalID), nullString(r.DisplayName),
		nullString(strings.ToLower(r.Email)), s.d.columnBool(r.Active), string(r.Doc), r.Created.UnixMicro(), r.Modified.UnixMicro(), r.Version}
}

// readCreatedAhead asks, after the statement before, whether a non-SCIM member holds r's userName
// and whether anything is left under its id.
func (s *Store) readCreatedAhead(ctx context.Context, tx *sql.Tx, before string, beforeArgs []any, r *store.Resource) (*readAhead, error) {
	var (
		n        int
		leftover bool
	)
	err := s.queryRow(ctx, tx, s.q(before+`SELECT (SELECT COUNT(*) FROM `+foreignMembers+`),
		EXISTS (SELECT 1 FROM members WHERE org = ? AND user_id = ?) OR EXISTS (SELECT 1 FROM employee_records WHERE org = ? AND user_id = ?)`),
		append(beforeArgs, r.Org, strings.ToLower(r.Name), r.Org, r.ID, r.Org, r.ID)...).Scan(&n, &leftover)
	if err != nil {
		return nil, err
	}
	ahead := &readAhead{org: r.Org, userNameLower: strings.ToLower(r.Name), foreign: n > 0, hasForeign: true}
	if !leftover && !readBackSnapshots.Load() {
		ahead.user = r
	}
	return ahead, nil
}

// GetForUpdate is Get; on PostgreSQL a user comes with its member too, for an update of it in
// one statement (one_statement_update.go).
func (s *Store) GetForUpdate(ctx context.Context, org string, kind store.Kind, id string) (*store.Resource, error) {
	if kind != store.KindUser || s.readsForUpdate == nil || namesNothing(id) {
		return s.Get(ctx, org, kind, id)
	}
	r, err := s.readsForUpdate.find(ctx, org, id)
	if err == nil && r == nil {
		err = store.ErrNotFound
	}
	return r, err
}

// Get returns one resource of the organization; a user comes with its groups, in one query (on
// PostgreSQL one shared by concurrent reads: lookups.go).
func (s *Store) Get(ctx context.Context, org string, kind store.Kind, id string) (*store.Resource, error) {
	if namesNothing(id) {
		return nil, store.ErrNotFound
	}
	if kind != store.KindUser {
		return s.get(ctx, nil, org, kind, id, "")
	}
	if s.reads != nil {
		r, err := s.reads.find(ctx, org, id)
		if err == nil && r == nil {
			err = store.ErrNotFound
		}
		return r, err
	}
	var groups string
	row := s.queryRow(bounded(ctx), nil, s.boundedStmts.userByID, org, id) // bounded_reads.go
	r, err := s.scan(func(dest ...any) error { return row.Scan(append(dest, &groups)...) }, org, kind)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if r.Groups, err = decodeGroups(groups); err != nil {
		return nil, err
	}
	r.GroupsLoaded = true
	return r, nil
}

func (s *Store) get(ctx context.Context, tx *sql.Tx, org string, kind store.Kind, id, lock string) (*store.Resource, error) {
	row := s.queryRow(ctx, tx, s.q(`SELECT `+resourceColumns+` FROM `+table(kind)+` r WHERE r.org = ? AND r.id = ?`+lock), org, id)
	r, err := s.scan(row.Scan, org, kind)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return r, err
}

func (s *Store) scan(scan func(...any) error, org string, kind store.Kind) (*store.Resource, error) {
	var (
		r                          = &store.Resource{Org: org, Kind: kind}
		externalID, display, email sql.NullString
		doc                        string
		created, modified          int64
		active                     any
	)
	if err := scan(&r.ID, &externalID, &r.Name, &display, &email, &active, &doc, &created, &modified, &r.Version); err != nil {
		return nil, err
	}
	r.ExternalID, r.DisplayName, r.Email = externalID.String, display.String, email.String
	r.Doc = []byte(doc)
	r.Created, r.Modified = time.UnixMicro(created).UTC(), time.UnixMicro(modified).UTC()
	switch v := active.(type) {
	case bool:
		r.Active = v
	case int64:
		r.Active = v != 0
	}
	return r, nil
}

// Update writes a change prepared from current if the resource is still at current.Version. The
// version check is the UPDATE's own WHERE clause: the row it locks is the row it checks (on
// PostgreSQL a concurrent writer's commit is re-checked under the lock), so no read precedes it.
func (s *Store) Update(ctx context.Context, current *store.Resource, change *store.Change, w store.Write) (*store.Resource, error) {
	org, kind, id := current.Org, current.Kind, current.ID
	if change == nil {
		return current, s.inFencedTx(ctx, org, w.Binding, memberLocks{}, func(tx *sql.Tx) error { return s.effects(ctx, tx, w, org, id, nil) })
	}
	next := *current
	if change.Resource != nil {
		next = *change.Resource
	}
	next.Org, next.Kind, next.ID, next.Created = org, kind, id, current.Created
	next.Version = current.Version + 1
	next.Modified = time.Now().UTC().Truncate(time.Microsecond)
	next.Groups, next.GroupsLoaded = current.Groups, current.GroupsLoaded // a user's write never changes its groups
	next.ReadForUpdate = nil
	if res, done, err := s.updateInOneStatement(ctx, current, &next, change, w); done {
		return res, err
	}
	unchanged := false
	err := s.inFencedTx(ctx, org, w.Binding, updateLocks(current, &next, change, w), func(tx *sql.Tx) error {
		counted(w, nil, nil) // a run again starts over
		if kept, err := s.keptUnchanged(ctx, tx, current, change, w); err != nil || kept {
			unchanged = kept
			return err
		}
		// Locks in the order every write takes them: the organization's fence, the resource's row,
		// its memberships' rows, the member. A rename refreshes memberships first, so its member is
		// read after (read_ahead.go).
		renamed := kind == store.KindUser && (next.DisplayName != current.DisplayName || next.Name != current.Name)
		readAheadUser := w.Policy != nil && kind == store.KindUser
		member, added, removed, err := s.writeRow(ctx, tx, current, &next, change, w, readAheadUser && !renamed)
		if err != nil {
			return err
		}
		counted(w, added, removed)
		if change.KeepIfUnchanged && change.Members != nil && len(added)+len(removed) == 0 {
			return errNothingChanged // rolled back: the new version and the member change that changed nothing
		}
		if renamed {
			if err := s.refreshMemberDisplay(ctx, tx, org, &next); err != nil {
				return err
			}
		}
		if readAheadUser && member == nil {
			if member, _, err = s.readMemberAhead(ctx, tx, memberRead{first: "1"}, &next); err != nil {
				return fmt.Errorf("reading member %s: %w", id, err)
			}
		}
		return s.effectsLoaded(ctx, tx, w, org, id, member, func(ptx provisioning.Tx, o provisioning.Origin) error {
			if kind == store.KindGroup {
				return provisioning.GroupWritten(ctx, ptx, *w.Policy, provisioning.GroupWrite{Org: org, GroupID: id, Before: groupOf(current),
					After: groupOf(&next), Added: added, Removed: removed, Origin: o})
			}
			return provisioning.UserWritten(ctx, ptx, *w.Policy, provisioning.UserWrite{Org: org, UserID: id, Before: userBefore(current),
				After: userAfter(&next, member), Origin: o})
		})
	})
	return s.updated(ctx, current, &next, unchanged, err, w)
}

// keptUnchanged, on SQLite, records a write that would change nothing (Change.KeepIfUnchanged,
// membersUnchanged) as its audit alone, in its transaction, and says so.
func (s *Store) keptUnchanged(ctx context.Context, tx *sql.Tx, current *store.Resource, change *store.Change, w store.Write) (bool, error) {
	if !change.KeepIfUnchanged || change.Members == nil || s.d.name() == "postgres" {
		return false, nil
	}
	same, err := s.membersUnchanged(ctx, tx, current.Org, current.ID, current.Version, change.Members)
	if err != nil || !same {
		return false, err
	}
	return true, s.effects(ctx, tx, w, current.Org, current.ID, nil)
}

// updated is Update's answer: next, or current when nothing changed; a PostgreSQL write rolled
// back for changing nothing (errNothingChanged) is recorded as its audit alone.
func (s *Store) updated(ctx context.Context, current, next *store.Resource, unchanged bool, err error, w store.Write) (*store.Resource, error) {
	switch {
	case errors.Is(err, errNothingChanged):
		return current, s.inFencedTx(ctx, current.Org, w.Binding, memberLocks{}, func(tx *sql.Tx) error {
			return s.effects(ctx, tx, w, current.Org, current.ID, nil)
		})
	case err != nil:
		return nil, err
	case unchanged:
		return current, nil
	}
	return next, nil
}

// errNothingChanged rolls back a write whose member change changed nothing (Change.KeepIfUnchanged),
// on PostgreSQL: the change itself tells, in the statement that makes it (SQLite asks first,
// membersUnchanged).
var errNothingChanged = errors.New("the write changes nothing")

// writeRow writes next over current and a group's member change, with the member read ahead, if
// any (withMember: a user's, updateRow). A group's change of one member makes the group's UPDATE
// in its own statement (changeOneMember).
func (s *Store) writeRow(ctx context.Context, tx *sql.Tx, current, next *store.Resource, change *store.Change, w store.Write,
	withMember bool) (member *readAhead, added, removed []string, err error) {
	if renamesGroup(current, next) {
		if err := s.claimGroupName(ctx, tx, next.Org, next.ID, next.Name); err != nil {
			return nil, nil, nil, err
		}
	}
	oneMember := next.Kind == store.KindGroup && change.Members != nil && s.oneMemberChange(change.Members, next.ID, w)
	if !oneMember {
		if member, err = s.updateRow(ctx, tx, current, next, withMember); err != nil {
			return nil, nil, nil, err
		}
	}
	if change.Members == nil {
		return member, nil, nil, nil
	}
	var update *groupUpdate
	if oneMember {
		set, args := s.updateSet(current, next)
		update = &groupUpdate{set: set, args: args}
	}
	added, removed, ahead, err := s.changeGroupMembers(ctx, tx, next.Org, next.ID, change.Members, update)
	if ahead != nil {
		member = ahead
	}
	return member, added, removed, err
}

// Delete removes a resource and every membership naming it.
func (s *Store) Delete(ctx context.Context, org string, kind store.Kind, id string, ifVersion int64, w store.Write) error {
	if namesNothing(id) {
		return store.ErrNotFound
	}
	locks := lockMember(id)
	switch {
	case w.Policy == nil:
		locks = memberLocks{} // no events
	case kind == store.KindGroup:
		locks = lockAllMembers // not known before the group's row is locked
	}
	return s.inFencedTx(ctx, org, w.Binding, locks, func(tx *sql.Tx) error {
		current, err := s.get(ctx, tx, org, kind, id, s.d.forUpdate())
		if err != nil {
			return err
		}
		if ifVersion > 0 && current.Version != ifVersion {
			return store.ErrVersionMismatch
		}
		// A deleted group's members, for their events and roles (a large group's later).
		var members []string
		if kind == store.KindGroup && w.Policy != nil {
			if err := s.keepDeletedGroupsNames(ctx, tx, current); err != nil {
				return err
			}
			var deferred bool
			if members, deferred, err = s.deleteGroupLater(ctx, tx, current, w); deferred || err != nil {
				return err
			}
		}
		if _, err := s.exec(ctx, tx, s.q(`DELETE FROM `+table(kind)+` WHERE org = ? AND id = ?`), org, id); err != nil {
			return fmt.Errorf("deleting %s %s: %w", kind, id, err)
		}
		if kind == store.KindGroup {
			if _, err := s.exec(ctx, tx, s.q(`DELETE FROM scim_group_members WHERE org = ? AND group_id = ?`), org, id); err != nil {
				return fmt.Errorf("deleting memberships of %s: %w", id, err)
			}
		}
		left, err := s.leaveGroups(ctx, tx, org, kind, id, w)
		if err != nil {
			return err
		}
		return s.effects(ctx, tx, w, org, id, func(ptx provisioning.Tx, o provisioning.Origin) error {
			if kind == store.KindGroup {
				return provisioning.GroupWritten(ctx, ptx, *w.Policy, provisioning.GroupWrite{Org: org, GroupID: id, Before: groupOf(current),
					Removed: members, Origin: o})
			}
			return provisioning.UserWritten(ctx, ptx, *w.Policy, provisioning.UserWrite{Org: org, UserID: id, Before: userBefore(current),
				LeftGroups: left, Origin: o})
		})
	})
}

// leaveGroups ends the memberships of groups of a member being deleted in tx, and returns the
// ones a user left, for their events (a group's end without events). A member of more than
// provisioning.MembersPerTransaction groups (with a policy: every SCIM write) leaves them to the
// group worker instead, as MemberDeleted work, and returns none: ending each, with its event, is
// as long as it has groups, and on SQLite every organization's writes wait for it. Until then no
// read shows it in them (memberIsThere). A user's memberships of deleted groups waiting for the
// worker are left to it, which ends them with their group's names.
func (s *Store) leaveGroups(ctx context.Context, tx *sql.Tx, org string, kind store.Kind, id string, w store.Write) ([]string, error) {
	ofGroupsThere := ""
	if kind == store.KindUser {
		ofGroupsThere = groupIsThere
	}
	var groups []string
	if w.Policy != nil {
		var err error
		groups, err = s.column(ctx, tx, `SELECT m.group_id FROM scim_group_members m WHERE m.org = ? AND m.member_id = ?`+ofGroupsThere+` LIMIT ?`,
			org, id, provisioning.MembersPerTransaction+1)
		if err != nil {
			return nil, fmt.Errorf("reading memberships of %s: %w", id, err)
		}
		if len(groups) > provisioning.MembersPerTransaction {
			return nil, s.deferGroupWork(ctx, tx, org, id, store.MemberDeleted, provisioning.Group{}, originOf(w.Audit))
		}
	}
	if _, err := s.exec(ctx, tx, s.q(`DELETE FROM scim_group_members AS m WHERE m.org = ? AND m.member_id = ?`+ofGroupsThere), org, id); err != nil {
		return nil, fmt.Errorf("deleting memberships of %s: %w", id, err)
	}
	if kind == store.KindGroup {
		return nil, nil
	}
	return groups, nil
}

// counted tells w's caller how many memberships its write changed (store.Write.Memberships).
func counted(w store.Write, added, removed []string) {
	if w.Memberships != nil {
		*w.Memberships = len(added) + len(removed)
	}
}

// groupIsThere keeps a membership row m whose group's row is there: a deleted group's wait for
// the group worker (group_work.go).
const groupIsThere = ` AND EXISTS (SELECT 1 FROM scim_groups g WHERE g.org = m.org AND g.id = m.group_id)`

// memberIsThere keeps a membership row m whose member is not deleted with its memberships of
// groups waiting for the group worker (MemberDeleted work, member_work.go). Such work is rare and
// its rows few, so this is a probe of a small index, not a join with the members' tables.
const memberIsThere = ` AND NOT EXISTS (SELECT 1 FROM group_backlog b WHERE b.org = m.org AND b.group_id = m.member_id AND b.kind = '` +
	store.MemberDeleted + `')`

// membersAreThere is memberIsThere for reads of many rows, with the organization as a parameter:
// it asks once whether the organization has such work at all, and probes for each row only when
// it has (a probe a row cost a group of 2,000 members' read a third more).
const membersAreThere = ` AND (NOT EXISTS (SELECT 1 FROM group_backlog WHERE org = ? AND kind = '` + store.MemberDeleted + `')
	OR NOT EXISTS (SELECT 1 FROM group_backlog b WHERE b.org = m.org AND b.group_id = m.member_id AND b.kind = '` + store.MemberDeleted + `'))`

// maxAttempts bounds how often a transaction the database aborted (deadlock, serialization) runs.
const maxAttempts = 4

// inTx runs fn in a transaction, committing when it returns nil. A transaction PostgreSQL aborted
// to break a deadlock runs again: fn reads everything it decides on inside the transaction.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.committer != nil {
		return s.committer.do(ctx, fn)
	}
	var err error
	for range maxAttempts {
		if err = s.txOnce(ctx, fn); !s.d.isRetryable(err) {
			return released(err)
		}
	}
	return err
}

func (s *Store) txOnce(ctx context.Context, fn func(*sql.Tx) error) error {
	start := time.Now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		observeCommit(start, 1, err)
		return fmt.Errorf("committing: %w", err)
	}
	observeCommit(start, 1, nil)
	return nil
}

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// groupOf is what provisioning reads of a group: the names role mappings match.
func groupOf(r *store.Resource) *provisioning.Group {
	return &provisioning.Group{DisplayName: r.Name, ExternalID: r.ExternalID}
}

// Rebind writes a query with '?' placeholders in the dialect's form (for tests that seed rows).
func (s *Store) Rebind(query string) string { return s.q(query) }
