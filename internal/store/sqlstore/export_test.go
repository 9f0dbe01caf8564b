package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// SetSnapshotsFromWrites turns building created users' snapshots from their writes on or off.
func SetSnapshotsFromWrites(on bool) { readBackSnapshots.Store(!on) }

// BuiltFromWrites counts the snapshots built from their writes so far.
func BuiltFromWrites() int64 { return builtFromWrites.Load() }

// BatchedLookups counts the statements the userName lookup batcher ran so far.
func BatchedLookups() int64 { return batchedLookups.Load() }

func BatchedReadsByID() int64 { return batchedReadsByID.Load() }

// ReadAheadsGivenUp counts member read-aheads given up because the member changed while waiting.
func ReadAheadsGivenUp() int64 { return readAheadsGivenUp.Load() }

// OneStatementCreates counts creates made in one statement, and SpeculationsGivenUp those that
// ran again the usual way.
func OneStatementCreates() int64 { return oneStatementCreates.Load() }
func SpeculationsGivenUp() int64 { return speculationsGivenUp.Load() }

// OneStatementUpdates counts user updates made in one statement.
func OneStatementUpdates() int64 { return oneStatementUpdates.Load() }

// SetPrefetchSnapshots turns reading the members of a write's events together on or off.
func SetPrefetchSnapshots(on bool) { noPrefetch.Store(!on) }

func PrefetchedMembers() int64 { return prefetchedMembers.Load() }

// BatchedReads are the statements of the batched reads on PostgreSQL, with their parameters' types.
func BatchedReads(s *Store) []struct{ Name, Query, Types string } {
	return []struct{ Name, Query, Types string }{
		{"by userName", s.q(s.lookups.query), "text[], text[]"},
		{"by id", s.q(s.reads.query), "text[], text[]"},
		{"by id for an update", s.q(s.readsForUpdate.query), "text[], text[]"},
		{"member snapshots", s.q(memberSnapshotQuery(s.d, true, 0)), "text[], text"},
	}
}

// GroupUpdatesWithTheirChange counts groups' UPDATEs made in their change of one member's statement.
func GroupUpdatesWithTheirChange() int64 { return groupUpdatesWithTheirChange.Load() }

// SetAfterGapCheck runs f once, in the next numbering pass, between its look at a gap's writers
// and its read of the events.
func SetAfterGapCheck(f func()) { afterGapCheck.Store(&f) }

// MigratePostgresThrough applies the PostgreSQL migrations up to and including version last to
// db, as OpenPostgres would, so a test can fill a database as an older release left it.
func MigratePostgresThrough(ctx context.Context, db *sql.DB, last int) error {
	s := &Store{db: db, d: postgresDialect{}}
	return s.migrateThrough(ctx, last)
}

// EventReads are the reads of events through the view on PostgreSQL: the Events API's page (text,
// bigint, int) and the deliverer's oldest pending event (text, bigint).
func EventReads(s *Store) (page, oldest string) { return s.q(s.eventsPageQuery()), s.q(oldestPending) }

// SetAfterOrganizationLocked runs f once, in the next DeleteOrganization or BindOrganization,
// once it holds the organization's fence and before it changes anything.
func SetAfterOrganizationLocked(f func()) { afterOrganizationLocked.Store(&f) }

// OrganizationTables are the tables holding an organization's rows.
func OrganizationTables(s *Store) []string { return s.organizationTables() }

// OneStatementsSent counts the writes sent as one statement, whatever their outcome.
func OneStatementsSent() int64 { return oneStatementsSent.Load() }

// SetBeforeDeliveryStarts runs f once, in the next Delivery that starts a subscription, before
// the transaction that reads and records its start.
func SetBeforeDeliveryStarts(f func()) {
	if f == nil {
		beforeDeliveryStarts.Store(nil)
		return
	}
	beforeDeliveryStarts.Store(&f)
}

// EventPageRowsSent runs the Events page's statement and counts every row the server sends,
// read to the end of the result (as the driver does when a page stops early).
func EventPageRowsSent(ctx context.Context, s *Store, org string, after int64, limit int) (int, error) {
	rows, err := s.query(ctx, s.q(s.eventsPageQuery()), org, after, limit)
	if err != nil {
		return 0, err
	}
	defer func() { _ = rows.Close() }()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

// AuditSelect is an AuditEvents read's statement, rebound for the store, and its arguments.
func AuditSelect(s *Store, org string, q store.AuditQuery) (string, []any) {
	query, args := auditSelect(org, q)
	return s.q(query), args
}

// SetAfterSnapshotsRead runs f once, in the next write of events on PostgreSQL, between reading
// its events' snapshots and taking their positions.
func SetAfterSnapshotsRead(f func()) { afterSnapshotsRead.Store(&f) }

// SetPruneChunk makes pruning delete at most n rows a transaction, and runs between (when not
// nil) between two of them; restore puts both back.
func SetPruneChunk(n int, between func()) (restore func()) {
	before := pruneChunk.Swap(int64(n))
	if between != nil {
		betweenPruneChunks.Store(&between)
	}
	return func() { pruneChunk.Store(before); betweenPruneChunks.Store(nil) }
}

// MemberLocksTaken counts the writes that took members' locks, and their organization's.
func MemberLocksTaken() (few, all int64) { return memberLocksTaken.Load(), allMemberLocksTaken.Load() }

// ApplyMigrationAgain forgets that the store's migration named name (its file name after the
// version, such as "legacy_event_ids") was applied and applies it again, as an upgrade from a
// release before it would.
func ApplyMigrationAgain(ctx context.Context, s *Store, name string) error {
	entries, err := fs.ReadDir(migrations, path.Join("migrations", s.d.name()))
	if err != nil {
		return err
	}
	for _, e := range entries {
		v, rest, _ := strings.Cut(e.Name(), "_")
		if rest != name+".sql" {
			continue
		}
		version, err := strconv.Atoi(v)
		if err != nil {
			return err
		}
		if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM schema_migrations WHERE version = ?`), version); err != nil {
			return err
		}
		return s.migrateThrough(ctx, version)
	}
	return fmt.Errorf("no migration %q", name)
}

// Dialect is the store's SQL dialect: "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name() }

// SetUserGroupsRead makes userGroups read at most n groups of a user, in statements built from
// now on (a store opened after it), until the test ends.
func SetUserGroupsRead(t interface{ Cleanup(func()) }, n int) {
	before := userGroupsRead
	userGroupsRead = strconv.Itoa(n)
	t.Cleanup(func() { userGroupsRead = before })
}

// SetMembersPerTransaction lowers provisioning.MembersPerTransaction for the test.
func SetMembersPerTransaction(t interface{ Cleanup(func()) }, n int) {
	before := provisioning.MembersPerTransaction
	provisioning.MembersPerTransaction = n
	t.Cleanup(func() { provisioning.MembersPerTransaction = before })
}

// SetMaxMembersRemoved lowers the members one write may remove from a group, for the test.
func SetMaxMembersRemoved(t interface{ Cleanup(func()) }, n int) {
	before := maxMembersRemoved
	maxMembersRemoved = n
	t.Cleanup(func() { maxMembersRemoved = before })
}

// SetDeletionPart lowers the rows one part of an organization's deletion deletes, and runs
// after after each part (nil: nothing), for the test.
func SetDeletionPart(t interface{ Cleanup(func()) }, n int, after func(table string) error) {
	before := deletionPart
	deletionPart = n
	if after != nil {
		afterDeletionPart.Store(&after)
	}
	t.Cleanup(func() { deletionPart = before; afterDeletionPart.Store(nil) })
}

// InGroupNamedQuery is the query asking whether a member is in a group a mapping names.
func InGroupNamedQuery(s *Store) string { return s.q(inGroupNamedQuery(s.d)) }

// DeletePartQueries are the statements that delete a part of an organization's rows of a table
// (parameters org, limit) and a part of a deleted member's memberships (org, member, limit).
func DeletePartQueries(s *Store, table string) (organization, member string) {
	return s.q(deletePartQuery(s.d, table, "org = ?", "")), s.q(memberPartQuery(s.d))
}

// AnswerLookups runs one batched statement of the by-userName batcher for the lookups given
// (organization and lower-cased userName each), as concurrent requests would share it.
func AnswerLookups(s *Store, orgs, keys []string) ([]*store.Resource, []error) {
	batch := make([]*lookup, len(orgs))
	for i := range orgs {
		batch[i] = &lookup{org: orgs[i], key: keys[i], done: make(chan struct{})}
	}
	s.lookups.answer(batch)
	res, errs := make([]*store.Resource, len(batch)), make([]error, len(batch))
	for i, l := range batch {
		res[i], errs[i] = l.res, l.err
	}
	return res, errs
}

// StartAfter is the read of where a new subscription starts, in the store's dialect.
func StartAfter(s *Store) string { return s.q(s.startAfterQuery()) }
