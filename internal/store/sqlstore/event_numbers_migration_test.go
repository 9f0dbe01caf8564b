package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/test/pgtest"
)

// Migration 0012 moves events' numbers to a table of their own (decision 0013): these tests fill a
// database as the previous release left it and upgrade it.

// databaseBeforeEventNumbers is a new database of its own migrated up to 0011, as the previous
// release left it.
func databaseBeforeEventNumbers(t *testing.T, prefix string) (dsn string, db *sql.DB) {
	t.Helper()
	dsn = os.Getenv("EIO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("EIO_TEST_POSTGRES_DSN is not set; make test starts a throwaway PostgreSQL server and sets it")
	}
	dsn, err := pgtest.CreateDatabase(context.Background(), dsn, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if db, err = sql.Open("pgx", dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := sqlstore.MigratePostgresThrough(context.Background(), db, 11); err != nil {
		t.Fatal(err)
	}
	return dsn, db
}

// Upgrading a database the previous release left: an event it left unnumbered below the horizon
// is numbered, and that release's replicas, still running during a rolling upgrade, insert and
// delete events through the name provisioning_events.
func TestPostgresEventNumbersMigration(t *testing.T) {
	ctx := context.Background()
	dsn, db := databaseBeforeEventNumbers(t, "numbers_migration")
	// As the previous release left it: seq 1 and 2 numbered, position 3 stranded below the
	// horizon (4), position 5 not numbered yet.
	for _, q := range []string{
		`INSERT INTO provisioning_events (org, seq, id, type, subject, at_us, position) VALUES
			('acme', 1, 'evt_1', 'member.provisioned', 'u1', 1, 1), ('acme', 2, 'evt_2', 'member.provisioned', 'u2', 2, 2),
			('acme', NULL, 'evt_3', 'member.suspended', 'u1', 3, 3), ('other', 1, 'evt_4', 'member.provisioned', 'v1', 4, 4),
			('acme', NULL, 'evt_5', 'member.suspended', 'u2', 5, 5)`,
		`SELECT setval('provisioning_event_positions', 5)`,
		`INSERT INTO event_sequences (org, last) VALUES ('acme', 2), ('other', 1)`,
		`UPDATE event_numbering SET horizon = 4`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s, err := sqlstore.OpenPostgres(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var got []string
	for _, e := range eventsOf(t, s, "acme") {
		got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.ID))
	}
	if strings.Join(got, " ") != "1:evt_1 2:evt_2 3:evt_3 4:evt_5" {
		t.Fatalf("events after the migration: %v", got)
	}

	// The previous release's writes: a create's events (its statement's form), a deletion.
	if _, err := db.ExecContext(ctx, `WITH x AS MATERIALIZED (SELECT pg_current_xact_id() AS xid),
		w AS (INSERT INTO provisioning_events (org, id, type, subject, at_us) SELECT v.* FROM x,
			(VALUES ('acme', 'evt_6', 'member.provisioned', 'u3', 6::bigint)) AS v WHERE x.xid IS NOT NULL)
		SELECT 1 FROM x`); err != nil {
		t.Fatalf("an insert as the previous release makes it: %v", err)
	}
	if events := eventsOf(t, s, "acme"); len(events) != 5 || events[4].Seq != 5 || events[4].ID != "evt_6" {
		t.Fatalf("an event inserted as the previous release does: %+v", events)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM provisioning_events WHERE org = 'other'`); err != nil {
		t.Fatalf("a deletion as the previous release makes it: %v", err)
	}
	var rows, numbers int
	if err := db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM provisioning_event_rows WHERE org = 'other'),
		(SELECT COUNT(*) FROM event_numbers WHERE org = 'other')`).Scan(&rows, &numbers); err != nil {
		t.Fatal(err)
	}
	if rows != 0 || numbers != 0 {
		t.Fatalf("after deleting through the view: %d rows, %d numbers", rows, numbers)
	}
}

// A write of the previous release still in flight while migration 0012 runs, whose position that
// release's numberer had passed (the flaw the migration repairs): the migration waits for it and
// numbers its event.
func TestPostgresEventNumbersMigrationWaitsForAWriteInFlight(t *testing.T) {
	ctx := context.Background()
	dsn, db := databaseBeforeEventNumbers(t, "numbers_inflight")
	inFlight, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inFlight.Rollback() })
	if _, err := inFlight.ExecContext(ctx, `INSERT INTO provisioning_events (org, id, type, subject, at_us) VALUES ('acme', 'evt_1', 'test.inflight', 'u', 1)`); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{ // that release's numberer numbered position 2 and passed 1
		`INSERT INTO provisioning_events (org, seq, id, type, subject, at_us) VALUES ('acme', 1, 'evt_2', 'test.numbered', 'u', 2)`,
		`INSERT INTO event_sequences (org, last) VALUES ('acme', 1)`,
		`UPDATE event_numbering SET horizon = 2`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	opened := make(chan *sqlstore.Store, 1)
	go func() {
		s, err := sqlstore.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Error(err)
		}
		opened <- s
	}()
	// The migration waits for the write's lock on the table (bounded: 30 s).
	for i := 0; ; i++ {
		var waiting int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if i == 300 {
			t.Fatal("the migration never waited for the write in flight")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := inFlight.Commit(); err != nil {
		t.Fatal(err)
	}
	s := <-opened
	if s == nil {
		t.FailNow()
	}
	t.Cleanup(func() { _ = s.Close() })
	var got []string
	for _, e := range eventsOf(t, s, "acme") {
		got = append(got, fmt.Sprintf("%d:%s", e.Seq, e.Event.Type))
	}
	if strings.Join(got, " ") != "1:test.numbered 2:test.inflight" {
		t.Fatalf("events after the upgrade: %v", got)
	}
}
