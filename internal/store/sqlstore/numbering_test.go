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
	_ "github.com/jackc/pgx/v5/stdlib"

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
	if err := s.DeleteOrganization(ctx, org, store.Binding{}); err != nil {
		t.Fatal(err)
	}
	if r, n := numbers(); r != 0 || n != 0 {
		t.Fatalf("after deleting the organization: %d rows, %d numbers left", r, n)
	}
	createUsers(t, s, org, 5, p)
	if got := eventsOf(t, s, org); len(got) != 5 || got[0].Seq != 5 || got[4].Seq != 9 {
		t.Fatalf("an organization provisioned again numbers on from its deleted data's events (5 to 9): %+v", got)
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
	page, oldest := sqlstore.EventReads(s) // the Events API's page, the deliverer's oldest pending event
	for _, q := range []string{`SET plan_cache_mode = force_generic_plan`, `ANALYZE provisioning_event_rows, event_numbers`,
		`PREPARE events_plan(text, bigint, int) AS ` + page, `PREPARE pending_plan(text, bigint) AS ` + oldest} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, run := range []string{`EXECUTE events_plan('` + org + `', 10, 100)`, `EXECUTE pending_plan('` + org + `', 10)`} {
		plan := explain(t, conn, `EXPLAIN `+run)
		if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Hash") || !strings.Contains(plan, "event_numbers_pkey") {
			t.Errorf("%s does not walk the numbers' index:\n%s", run, plan)
		}
	}
}

// A gap's writer that ends between the pass's look at the writers and its read of the events is
// seen by the read: its event is numbered, not skipped. (A look after the read, in a newer
// snapshot, closed the gap on a write the read had not seen, and lost its event.)
func TestPostgresAWriterEndingDuringAPassIsNumbered(t *testing.T) {
	a, b := replicas(t)
	org := fmt.Sprintf("numbering-during-%d", time.Now().UnixNano())
	p := &provisioning.Policy{AutoActivate: true}
	held := openEventWrite(t, a, org, "test.held")
	createUsers(t, b, org, 1, p)
	if got := eventsOf(t, a, org); len(got) != 0 {
		t.Fatalf("numbered past a write in flight: %+v", got)
	}
	committed := make(chan error, 1)
	sqlstore.SetAfterGapCheck(func() { committed <- held.Commit() })
	eventsOf(t, a, org) // the pass that runs the hook
	if err := <-committed; err != nil {
		t.Fatal(err)
	}
	if got := eventsOf(t, a, org); len(got) != 2 || string(got[0].Event.Type) != "test.held" {
		t.Fatalf("the write that ended during the pass: %+v", got)
	}
}

// An older transaction takes the later position and commits while a newer one holds the earlier
// position: the gap waits for the newer one. A snapshot's xmax is only above the newest ended
// transaction, so as a mark it let the gap close under a newer writer still running.
func TestPostgresAGapWaitsForANewerWriterHoldingIt(t *testing.T) {
	a, _ := replicas(t)
	ctx := context.Background()
	org := fmt.Sprintf("numbering-newer-%d", time.Now().UnixNano())
	older, err := a.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = older.Rollback() })
	if _, err := older.ExecContext(ctx, `SELECT pg_current_xact_id()`); err != nil {
		t.Fatal(err)
	}
	newer := openEventWrite(t, a, org, "test.newer") // a newer transaction id, the earlier position
	if _, err := older.ExecContext(ctx, `INSERT INTO provisioning_event_rows (org, id, type, subject, at_us) VALUES ($1, $2, 'test.older', 'o', 1)`,
		org, fmt.Sprintf("evt_older_%d", time.Now().UnixNano())); err != nil {
		t.Fatal(err)
	}
	if err := older.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := eventsOf(t, a, org); len(got) != 0 {
		t.Fatalf("numbered past a newer write still holding the earlier position: %+v", got)
	}
	if err := newer.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := eventsOf(t, a, org); len(got) != 2 || string(got[0].Event.Type) != "test.newer" || got[0].Seq != 1 {
		t.Fatalf("after the newer write committed, its event comes first: %+v", got)
	}
}

// A gap whose first visible position after it is deleted (its organization's data was) grows
// past positions taken after its mark: it is seen anew, and a newer writer holding one of them
// is waited for. The old mark closed the grown gap and lost that writer's event.
func TestPostgresAGapThatGrowsIsSeenAnew(t *testing.T) {
	ctx := context.Background()
	if os.Getenv("EIO_TEST_POSTGRES_DSN") == "" {
		t.Skip("EIO_TEST_POSTGRES_DSN is not set; make test starts a throwaway PostgreSQL server and sets it")
	}
	dsn, err := pgtest.CreateDatabase(ctx, os.Getenv("EIO_TEST_POSTGRES_DSN"), "numbering_grows")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.OpenPostgres(ctx, dsn) // a database of its own: the test follows every position
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	x, y := "org-x", "org-y"
	held := openEventWrite(t, s, x, "test.held") // p, in flight
	after := openEventWrite(t, s, x, "test.after")
	if err := after.Commit(); err != nil { // p+1
		t.Fatal(err)
	}
	if got := eventsOf(t, s, x); len(got) != 0 { // sees the gap at p, notes its mark
		t.Fatalf("numbered past a write in flight: %+v", got)
	}
	if err := s.DeleteOrganization(ctx, x, store.Binding{}); err != nil { // p+1 goes
		t.Fatal(err)
	}
	newer := openEventWrite(t, s, y, "test.newer") // p+2, a transaction newer than the mark, in flight
	last := openEventWrite(t, s, y, "test.last")
	if err := last.Commit(); err != nil { // p+3
		t.Fatal(err)
	}
	if err := held.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := eventsOf(t, s, y); len(got) != 0 {
		t.Fatalf("numbered past a newer write in flight in the grown gap: %+v", got)
	}
	if err := newer.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := eventsOf(t, s, y); len(got) != 2 || string(got[0].Event.Type) != "test.newer" {
		t.Fatalf("after the newer write committed: %+v", got)
	}
}

// Two rolled-back writes leave two gaps in a row (refused writes do: decision 0020); a reader
// finds the event committed after both at once. A round gave one second look in all, so the event
// behind the second gap waited for the next round.
func TestPostgresEventsAfterTwoRolledBackWritesAreNumberedAtOnce(t *testing.T) {
	a, _ := replicas(t)
	org := fmt.Sprintf("numbering-two-gaps-%d", time.Now().UnixNano())
	p := &provisioning.Policy{AutoActivate: true}
	for range 2 {
		if err := openEventWrite(t, a, org, "test.rolledback").Rollback(); err != nil {
			t.Fatal(err)
		}
		createUsers(t, a, fmt.Sprintf("%s-other-%d", org, time.Now().UnixNano()), 1, p) // a committed event between the gaps
	}
	createUsers(t, a, org, 1, p)
	if got := eventsOf(t, a, org); len(got) != 1 || got[0].Event.Type != provisioning.MemberProvisioned {
		t.Fatalf("the event after two rolled-back writes: %+v", got)
	}
}
