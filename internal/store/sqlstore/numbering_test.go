package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/test/pgtest"
)

// On PostgreSQL events are numbered after commit (numbering.go). These tests hold a write open
// with a lower position than one that commits, and follow the sequence while writers race.

// openEventWrite begins a transaction that records one event of org, the way a write does (its
// transaction id first), and leaves it open.
func openEventWrite(t *testing.T, s *sqlstore.Store, org, typ string) *sql.Tx {
	t.Helper()
	tx, err := s.DB().BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	if _, err := tx.ExecContext(context.Background(), `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(context.Background(), `INSERT INTO provisioning_event_rows (org, id, type, subject, at_us) VALUES ($1, $2, $3, 'held', $4)`,
		org, fmt.Sprintf("evt_%s_%d", typ, time.Now().UnixNano()), typ, time.Now().UnixMicro()); err != nil {
		t.Fatal(err)
	}
	return tx
}

func eventsOf(t *testing.T, s store.Store, org string) []store.EventRecord {
	t.Helper()
	page, err := s.Events(context.Background(), org, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

func TestPostgresEventsWaitForAnOlderWriteAndSkipARolledBackOne(t *testing.T) {
	a, b := replicas(t)
	org := fmt.Sprintf("numbering-%d", time.Now().UnixNano())
	p := &provisioning.Policy{AutoActivate: true}

	held := openEventWrite(t, a, org, "test.held")
	createUsers(t, b, org, 1, p) // commits, with a later position than the open write's
	if got := eventsOf(t, a, org); len(got) != 0 {
		t.Fatalf("an event was numbered past an older write still in flight: %+v", got)
	}
	if got := eventsOf(t, b, org); len(got) != 0 {
		t.Fatalf("the other replica numbered past an older write still in flight: %+v", got)
	}
	if err := held.Commit(); err != nil {
		t.Fatal(err)
	}
	got := eventsOf(t, b, org)
	if len(got) != 2 || got[0].Seq != 1 || string(got[0].Event.Type) != "test.held" || got[1].Seq != 2 ||
		got[1].Event.Type != provisioning.MemberProvisioned {
		t.Fatalf("after the older write committed: %+v", got)
	}

	gone := openEventWrite(t, a, org, "test.rolledback")
	if err := deactivate(b, org, 0, p); err != nil {
		t.Fatal(err)
	}
	if got := eventsOf(t, a, org); len(got) != 2 {
		t.Fatalf("numbered past a write still in flight: %+v", got)
	}
	if err := gone.Rollback(); err != nil {
		t.Fatal(err)
	}
	got = eventsOf(t, a, org)
	if len(got) != 3 || got[2].Seq != 3 || got[2].Event.Type != provisioning.MemberSuspended {
		t.Fatalf("after the older write rolled back, its position is skipped and numbering goes on: %+v", got)
	}
}

// A reader that follows the sequence while two replicas write misses nothing and sees nothing
// twice: what the numbering promises the deliverer and the Events API.
// A transaction open in another database of the same server cannot hold one of this database's
// positions: a rolled-back write's gap closes without waiting for it. Transaction ids span the
// server, so a mark read from the snapshot alone would wait (decision 0013).
func TestPostgresAGapDoesNotWaitForAnotherDatabasesTransaction(t *testing.T) {
	a, b := replicas(t)
	ctx := context.Background()
	otherDSN, err := pgtest.CreateDatabase(ctx, os.Getenv("EIO_TEST_POSTGRES_DSN"), "numbering_other")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, otherDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	elsewhere, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = elsewhere.Rollback(context.Background()) })
	if _, err := elsewhere.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}

	org := fmt.Sprintf("numbering-elsewhere-%d", time.Now().UnixNano())
	p := &provisioning.Policy{AutoActivate: true}
	gone := openEventWrite(t, a, org, "test.rolledback")
	createUsers(t, b, org, 1, p)
	if got := eventsOf(t, a, org); len(got) != 0 {
		t.Fatalf("numbered past a write still in flight: %+v", got)
	}
	if err := gone.Rollback(); err != nil {
		t.Fatal(err)
	}
	got := eventsOf(t, a, org)
	if len(got) != 1 || got[0].Seq != 1 || got[0].Event.Type != provisioning.MemberProvisioned {
		t.Fatalf("the rolled-back write's gap waited for a transaction of another database: %+v", got)
	}
}

func TestPostgresFollowingTheSequenceMissesNoEvent(t *testing.T) {
	a, b := replicas(t)
	org := fmt.Sprintf("following-%d", time.Now().UnixNano())
	p := &provisioning.Policy{AutoActivate: true}
	const writes = 300

	var (
		done    atomic.Bool
		wg      sync.WaitGroup
		seen    = map[string]bool{}
		after   int64
		readErr error
	)
	wg.Add(1)
	go func() { // the follower, on replica a, reads while the writers write
		defer wg.Done()
		for {
			finished := done.Load()
			page, err := a.Events(context.Background(), org, after, 50)
			if err != nil {
				readErr = err
				return
			}
			for _, e := range page {
				if e.Seq != after+1 || seen[e.ID] {
					readErr = fmt.Errorf("event %d (%s) after %d, seen before: %v", e.Seq, e.ID, after, seen[e.ID])
					return
				}
				seen[e.ID], after = true, e.Seq
			}
			if finished && len(page) == 0 {
				return
			}
		}
	}()
	parallel(t, writes, a, b, func(s store.Store, i int) error {
		now := time.Now().UTC().Truncate(time.Microsecond)
		return s.Create(context.Background(), &store.Resource{Org: org, Kind: store.KindUser, ID: fmt.Sprintf("f%d", i),
			Name: fmt.Sprintf("follower%d", i), Active: true, Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}, nil,
			store.Write{Policy: p})
	})
	done.Store(true)
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	if len(seen) != writes {
		t.Fatalf("the follower saw %d events of %d writes", len(seen), writes)
	}
}

// An event's number is a row of its own on PostgreSQL (event_numbers): pruning the event and
// deleting its organization remove the number with it, so nothing is left behind, and an
// organization provisioned again numbers from 1 without colliding with numbers of its past.
func TestPostgresEventNumbersGoWithTheirEvents(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	org := fmt.Sprintf("numbers-%d", time.Now().UnixNano())
	p := &provisioning.Policy{AutoActivate: true}
	numbers := func() (rows, numbers int) {
		t.Helper()
		if err := s.DB().QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM provisioning_event_rows WHERE org = $1),
			(SELECT COUNT(*) FROM event_numbers WHERE org = $1)`, org).Scan(&rows, &numbers); err != nil {
			t.Fatal(err)
		}
		return rows, numbers
	}

	createUsers(t, s, org, 3, p)
	if got := eventsOf(t, s, org); len(got) != 3 || got[2].Seq != 3 {
		t.Fatalf("events: %+v", got)
	}
	if r, n := numbers(); r != 3 || n != 3 {
		t.Fatalf("3 numbered events: %d rows, %d numbers", r, n)
	}
	if n, err := s.PruneEvents(ctx, org, time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("pruning removed %d events (%v), want 3", n, err)
	}
	if r, n := numbers(); r != 0 || n != 0 {
		t.Fatalf("after pruning: %d rows, %d numbers left", r, n)
	}

	if err := deactivate(s, org, 0, p); err != nil {
		t.Fatal(err)
	}
	if got := eventsOf(t, s, org); len(got) != 1 || got[0].Seq != 4 {
		t.Fatalf("numbering goes on after pruning: %+v", got)
	}
	if err := s.DeleteOrganization(ctx, org, ""); err != nil {
		t.Fatal(err)
	}
	if r, n := numbers(); r != 0 || n != 0 {
		t.Fatalf("after deleting the organization: %d rows, %d numbers left", r, n)
	}
	createUsers(t, s, org, 5, p)
	if got := eventsOf(t, s, org); len(got) != 5 || got[0].Seq != 1 || got[4].Seq != 5 {
		t.Fatalf("an organization provisioned again numbers from 1: %+v", got)
	}
}

// Reading an organization's events walks its numbers by index and finds each event by position,
// among many events of other organizations: no scan of either table under the generic plan.
func TestPostgresEventsReadByIndex(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	org := fmt.Sprintf("event-plans-%d", time.Now().UnixNano())
	createUsers(t, s, org, 100, &provisioning.Policy{AutoActivate: true})
	// Other organizations' events, numbered as any: a table of realistic size for the planner.
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO provisioning_event_rows (org, id, type, subject, at_us, data)
		SELECT $1 || (g % 20), 'evt_' || $1 || g, 'member.provisioned', 'u' || g, g, repeat('x', 300) FROM generate_series(1, 20000) AS g`,
		org+"-other-"); err != nil {
		t.Fatal(err)
	}
	eventsOf(t, s, org)
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	for _, q := range []string{`SET plan_cache_mode = force_generic_plan`, `ANALYZE provisioning_event_rows, event_numbers`,
		`PREPARE events_plan(text, bigint, int) AS SELECT seq, id, data FROM provisioning_events WHERE org = $1 AND seq > $2 ORDER BY seq LIMIT $3`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	plan := explain(t, conn, `EXPLAIN EXECUTE events_plan('`+org+`', 10, 100)`)
	if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "event_numbers_pkey") {
		t.Fatalf("reading events does not walk the numbers' index:\n%s", plan)
	}
}
