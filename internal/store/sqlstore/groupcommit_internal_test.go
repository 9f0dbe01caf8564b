package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Writes that fail after writing leave nothing, whether their batch ran without savepoints or
// again with them, and the writes that succeed beside them all land.
func TestBatchedWritesThatFailAfterWritingLeaveNothing(t *testing.T) {
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	const n = 300
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.inTx(context.Background(), func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(context.Background(), `INSERT INTO event_sequences (org, last) VALUES (?, ?)`,
					fmt.Sprintf("org-%d", i), i); err != nil {
					return err
				}
				if i%3 == 0 {
					return boom // after writing
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%3 == 0) != errors.Is(err, boom) || (i%3 != 0 && err != nil) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	var count, failedLeft int
	if err := s.db.QueryRowContext(context.Background(), `SELECT COUNT(*), COALESCE(SUM(last % 3 = 0), 0) FROM event_sequences`).
		Scan(&count, &failedLeft); err != nil {
		t.Fatal(err)
	}
	if count != n-n/3 || failedLeft != 0 {
		t.Fatalf("%d rows stored, %d of failed writes; want %d and 0", count, failedLeft, n-n/3)
	}
}

// Failing writes that keep coming (an identity provider resending conflicting creates) cost the
// one writer every organization shares little: a batch stops at its first failing write and runs
// again with savepoints, so only the writes before that failure run twice. 1,500 writes in full
// batches, a third of them failing, ran 1,552 times.
func TestFailingWritesCostTheSharedWriterLittle(t *testing.T) {
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	const n = 1500
	var runs atomic.Int64
	var wg sync.WaitGroup
	// A slow write holds the writer while the others queue, so they come in full batches.
	release := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = s.inTx(context.Background(), func(*sql.Tx) error { <-release; return nil })
	}()
	time.AfterFunc(300*time.Millisecond, func() { close(release) })
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.inTx(context.Background(), func(tx *sql.Tx) error {
				runs.Add(1)
				if _, err := tx.ExecContext(context.Background(), `INSERT INTO event_sequences (org, last) VALUES (?, ?)`,
					fmt.Sprintf("org-%d", i), i); err != nil {
					return err
				}
				if i%3 == 0 {
					return errors.New("conflict")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	t.Logf("%d writes ran %d times", n, runs.Load())
	if r := runs.Load(); r > n+n/10 {
		t.Fatalf("%d writes ran %d times", n, r)
	}
}

// A request that goes away while its write runs interrupts the statement, and SQLite then rolls
// back the whole transaction, the batch's other writes with it. Those are run again without it:
// before, closing its savepoint failed and every write of the batch, of any organization, got an
// error.
func TestAnInterruptedWriteFailsOnlyItself(t *testing.T) {
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	bg := context.Background()
	insert := func(org string) func(*sql.Tx) error {
		return func(tx *sql.Tx) error {
			_, err := tx.ExecContext(bg, `INSERT INTO event_sequences (org, last) VALUES (?, 1)`, org)
			return err
		}
	}
	boom := errors.New("boom")
	goingAway, cancel := context.WithCancel(bg)
	defer cancel()
	batch := []*writeRequest{
		{ctx: bg, fn: insert("first")},
		{ctx: bg, fn: func(tx *sql.Tx) error { _ = insert("failing")(tx); return boom }}, // the batch runs again with savepoints
		{ctx: goingAway, fn: func(tx *sql.Tx) error {
			time.AfterFunc(50*time.Millisecond, cancel)
			_, err := tx.ExecContext(goingAway, `INSERT INTO event_sequences (org, last)
				WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) SELECT 'long-' || x, x FROM c`)
			return err
		}},
		{ctx: bg, fn: insert("last")},
	}
	for _, r := range batch {
		r.done = make(chan error, 1)
	}
	s.committer.commit(batch)
	got := make([]error, len(batch))
	for i, r := range batch {
		got[i] = <-r.done
	}
	if got[0] != nil || !errors.Is(got[1], boom) || got[2] == nil || got[3] != nil {
		t.Fatalf("outcomes %v; want nil, boom, the interruption, nil", got)
	}
	var orgs []string
	rows, err := s.db.QueryContext(bg, `SELECT org FROM event_sequences WHERE org NOT LIKE 'long-%' ORDER BY org`)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var o string
		_ = rows.Scan(&o)
		orgs = append(orgs, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var long int
	_ = s.db.QueryRowContext(bg, `SELECT COUNT(*) FROM event_sequences WHERE org LIKE 'long-%'`).Scan(&long)
	if fmt.Sprint(orgs) != "[first last]" || long != 0 {
		t.Fatalf("stored %v and %d rows of the interrupted write; want [first last] and none", orgs, long)
	}
}
