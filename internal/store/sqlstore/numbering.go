package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// On PostgreSQL a write records its events without sequence numbers: each row takes a position
// from one global sequence (nextval, which holds no lock), and the numberer gives committed
// events their organization's sequence numbers afterwards, in position order. An event's number
// is a narrow row of its own (event_numbers: org, seq, position), so numbering inserts small rows
// instead of rewriting events; the view provisioning_events joins the two, and shows only
// numbered events. Numbering inside
// the write (one counter row per organization, updated last and locked until commit) made every
// write of an organization wait for the previous one's commit: 708 creates/s against 1,443/s
// without events (docs/performance.md, decision 0013).
//
// Positions come from a sequence without a per-session cache (CACHE 1, the default: migration
// 0010): with one, a session could take a lower position after another session's higher one,
// and both orders below would break.
//
// Why position order is a right order: a write appends its events last, after every row it
// locked or read. A write that depends on another (waited for its lock, read what it committed)
// therefore takes its positions after the other committed, so depending changes are numbered
// after what they depend on, and each organization's numbers follow one another without gaps.
//
// Why nothing is skipped: positions are taken before commit, so a reader can see position p+1
// committed while p is still in flight. The numberer stops at such a gap and notes a mark: a
// transaction id it takes after the snapshot that saw the gap (not the snapshot's xmax, which is
// only above the newest ended transaction: a newer writer may hold p while an older one committed
// p+1). The writer that holds p took it before p+1's writer committed, and had a transaction id
// by then (it wrote rows before its events; the insert also asks for the id first), so its id is
// below the mark. Once every transaction of this database below the mark has ended (a later
// snapshot's xmin passes it, or none of them is left in pg_stat_activity before the events are
// read again), p is either committed and visible, or gone for good (a rolled-back write,
// positions lost in a crash) and skipped.

// numberingLock is the advisory lock numbering rounds take, so replicas number one at a time.
const numberingLock = 7316236

// maxNumberedPerRound bounds the rows one round reads and updates.
const maxNumberedPerRound = 5000

// numberingInterval is how often each replica numbers on its own, for events nobody reads yet.
const numberingInterval = time.Second

// numberer runs numbering rounds one at a time; callers that need every event committed before
// their call numbered (the Events API, the deliverer) wait for a round that starts after they ask.
type numberer struct {
	s *Store

	mu      sync.Mutex
	running bool
	waiting []chan error // callers served by the next round
	// gapAt, gapMark, gapUpTo: the first missing position, the mark taken when it was seen (a
	// transaction id taken after the snapshot that saw it), and the first position visible after it
	// then: the mark covers the missing positions below that one only.
	gapAt, gapMark, gapUpTo int64

	stop chan struct{}
	done chan struct{}
}

func newNumberer(s *Store) *numberer {
	n := &numberer{s: s, stop: make(chan struct{}), done: make(chan struct{})}
	go n.tick()
	return n
}

func (n *numberer) close() {
	close(n.stop)
	<-n.done
}

// tick numbers events nobody asks for, so rows do not wait unnumbered until the first reader.
func (n *numberer) tick() {
	defer close(n.done)
	t := time.NewTicker(numberingInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := n.catchUp(ctx); err != nil && ctx.Err() == nil {
				slog.Warn("Numbering events failed; the next round tries again", "error", err)
			}
			cancel()
		}
	}
}

// catchUp returns once a round that started after the call has ended: every event committed
// before the call is numbered, unless an older write is still in flight.
func (n *numberer) catchUp(ctx context.Context) error {
	ch := make(chan error, 1)
	n.mu.Lock()
	n.waiting = append(n.waiting, ch)
	if !n.running {
		n.running = true
		go n.rounds() //nolint:gosec // a round serves every waiting caller: one caller leaving must not end it
	}
	n.mu.Unlock()
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rounds runs rounds while callers wait; those who asked during a round are served by the next.
func (n *numberer) rounds() {
	for {
		n.mu.Lock()
		batch := n.waiting
		n.waiting = nil
		if len(batch) == 0 {
			n.running = false
			n.mu.Unlock()
			return
		}
		n.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := n.round(ctx)
		cancel()
		for _, ch := range batch {
			ch <- err
		}
	}
}

// round numbers what can be numbered, in passes of at most maxNumberedPerRound events.
func (n *numberer) round(ctx context.Context) error {
	retriedAt := int64(-1) // the gap given its second look in this round
	for range 100 {        // bounded: 500,000 events per round at most
		var pending bool
		// The newest position (the end of the primary key) against the horizon: EXISTS with a
		// condition on a value the planner cannot see scanned the events from the oldest.
		if err := n.s.db.QueryRowContext(ctx, `SELECT COALESCE((SELECT MAX(position) FROM provisioning_event_rows), 0) >
			(SELECT horizon FROM event_numbering WHERE id = 1)`).Scan(&pending); err != nil {
			return fmt.Errorf("looking for events to number: %w", err)
		}
		if !pending {
			return nil
		}
		var next passEnd
		if err := n.s.inTx(ctx, func(tx *sql.Tx) error {
			var err error
			next, err = n.pass(ctx, tx)
			return err
		}); err != nil {
			return fmt.Errorf("numbering events: %w", err)
		}
		switch next {
		case newGap:
			// Most gaps are rolled-back writes long gone: a second look, with a newer
			// snapshot, closes them at once. A gap still open after it waits for its writer.
			// Each gap gets its look: refused writes leave several in a row, and one look per
			// round left every event after the second unnumbered until the next round.
			at := n.openGap().at
			if at == retriedAt {
				return nil
			}
			retriedAt = at
		case caughtUp:
			return nil
		}
	}
	return nil
}

// passEnd is why a numbering pass stopped.
type passEnd int

const (
	caughtUp passEnd = iota // nothing more to number now
	full                    // the pass read its limit: more may follow
	newGap                  // a gap first seen by this pass: a second look may close it
)

type unnumbered struct {
	position int64
	org      string
}

// pass numbers the events after the horizon up to the first gap that may still fill.
func (n *numberer) pass(ctx context.Context, tx *sql.Tx) (passEnd, error) {
	// Read Committed, whatever the server's default: each statement below sees what committed
	// before it, the lock's previous holder's work and the writers' (the gap's reasoning needs it).
	if _, err := tx.ExecContext(ctx, `SET TRANSACTION ISOLATION LEVEL READ COMMITTED`); err != nil {
		return caughtUp, err
	}
	if err := lockNumbering(ctx, tx); err != nil {
		return caughtUp, err
	}
	var horizon int64
	if err := tx.QueryRowContext(ctx, `SELECT horizon FROM event_numbering WHERE id = 1`).Scan(&horizon); err != nil {
		return caughtUp, fmt.Errorf("reading the numbering horizon: %w", err)
	}
	// A gap seen before: have its possible writers ended? Asked before the events are read, so
	// the read's newer snapshot sees whatever those writers committed.
	gap := n.openGap()
	if gap.at > horizon {
		running, err := ourWritersBefore(ctx, tx, gap.mark)
		if err != nil {
			return caughtUp, err
		}
		gap.ended = !running
	}
	if h := afterGapCheck.Swap(nil); h != nil {
		(*h)()
	}
	found, xmin, mark, err := readUnnumbered(ctx, tx, horizon)
	if err != nil {
		return caughtUp, err
	}
	var (
		take    []unnumbered
		stopped bool
		end     = caughtUp
	)
	for _, u := range found {
		if next := horizon + 1; u.position > next {
			closed, seen := n.gapClosed(next, u.position, gap, xmin, mark)
			if !closed {
				stopped, end = true, newGap
				if seen {
					end = caughtUp
				}
				break
			}
		}
		take = append(take, u)
		horizon = u.position
	}
	read := len(found)
	if !stopped && read == maxNumberedPerRound {
		end = full
	}
	if len(take) == 0 {
		return end, nil
	}
	if err := n.number(ctx, tx, take); err != nil {
		return caughtUp, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE event_numbering SET horizon = $1 WHERE id = 1`, horizon); err != nil {
		return caughtUp, fmt.Errorf("moving the numbering horizon: %w", err)
	}
	return end, nil
}

// afterGapCheck, when set, runs once in the next pass between its look at the writers of a gap
// and its read of the events (tests: a writer ending in between).
var afterGapCheck atomic.Pointer[func()]

// readUnnumbered reads the oldest events without numbers, those after the horizon, with the
// xmin of the snapshot that read them and a mark: the transaction id this pass takes in the same
// statement, after its snapshot, so above the id of every writer that held a position before
// the snapshot. No event at or below the horizon is without a number: its writer had ended when
// the horizon passed it.
func readUnnumbered(ctx context.Context, tx *sql.Tx, horizon int64) (found []unnumbered, xmin, mark int64, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT position, org, pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
		pg_current_xact_id()::text::bigint FROM provisioning_event_rows WHERE position > $1 ORDER BY position LIMIT $2`,
		horizon, maxNumberedPerRound)
	if err != nil {
		return nil, 0, 0, err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var u unnumbered
		if err := rows.Scan(&u.position, &u.org, &xmin, &mark); err != nil {
			return nil, 0, 0, err
		}
		found = append(found, u)
	}
	return found, xmin, mark, rows.Err()
}

// seenGap is a gap an earlier pass saw: its position, its mark, and whether this pass found every
// transaction of this database below the mark ended before it read the events.
type seenGap struct {
	at, mark, upTo int64
	ended          bool
}

func (n *numberer) openGap() seenGap {
	n.mu.Lock()
	defer n.mu.Unlock()
	return seenGap{at: n.gapAt, mark: n.gapMark, upTo: n.gapUpTo}
}

// gapClosed tells whether the missing positions from at up to upTo (the first visible one) can no
// longer appear: every transaction that could hold them, all those with an id below the mark
// noted when the gap was first seen, has ended. seen tells whether the gap had been seen before.
// A gap that grew since (the position visible after it then was deleted: its organization's data
// was) is seen anew: positions taken after the mark may be in it.
//
// The mark is the id of the pass that first saw the gap, which has ended since: so a later
// snapshot lists every transaction below the mark still running, and its xmin passing the mark
// says they have all ended. That xmin spans the whole server, though: a transaction open in
// another database (another application, another test package) keeps it below the mark although
// it cannot hold one of our positions. So the pass also looks, before its read, for this
// database's transactions below the mark (gap.ended).
func (n *numberer) gapClosed(at, upTo int64, gap seenGap, xmin, mark int64) (closed, seen bool) {
	if gap.at != at || upTo > gap.upTo {
		n.mu.Lock()
		n.gapAt, n.gapMark, n.gapUpTo = at, mark, upTo
		n.mu.Unlock()
		return false, false
	}
	return xmin >= gap.mark || gap.ended, true
}

// ourWritersBefore tells whether a transaction of this database with an id below mark is still
// running, or prepared. pg_stat_activity shows every backend's database and transaction id (the
// low 32 bits) to every role; age() orders 32-bit ids that are less than 2^31 apart, as running
// ones and a recent mark are.
func ourWritersBefore(ctx context.Context, tx *sql.Tx, mark int64) (bool, error) {
	var running bool
	err := tx.QueryRowContext(ctx, `WITH m AS (SELECT age((($1::bigint % 4294967296)::text)::xid) AS age)
		SELECT EXISTS (SELECT 1 FROM pg_stat_activity AS a, m WHERE a.datname = current_database()
				AND a.backend_xid IS NOT NULL AND age(a.backend_xid) > m.age)
			OR EXISTS (SELECT 1 FROM pg_prepared_xacts AS p, m WHERE p.database = current_database()
				AND age(p.transaction) > m.age)`, mark).Scan(&running)
	if err != nil {
		return false, fmt.Errorf("looking for writes still running below the numbering mark: %w", err)
	}
	return running, nil
}

// number gives the events their organizations' next sequence numbers, in position order.
func (n *numberer) number(ctx context.Context, tx *sql.Tx, take []unnumbered) error {
	orgs := make([]string, 0, 4)
	seen := map[string]bool{}
	for _, u := range take {
		if !seen[u.org] {
			seen[u.org] = true
			orgs = append(orgs, u.org)
		}
	}
	last, err := readLasts(ctx, tx, orgs)
	if err != nil {
		return err
	}
	positions, seqs := make([]int64, len(take)), make([]int64, len(take))
	for i, u := range take {
		last[u.org]++
		positions[i], seqs[i] = u.position, last[u.org]
	}
	orgOf := make([]string, len(take))
	for i, u := range take {
		orgOf[i] = u.org
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO event_numbers (org, seq, position) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])`,
		orgOf, seqs, positions); err != nil {
		return fmt.Errorf("numbering events: %w", err)
	}
	lasts := make([]int64, len(orgs))
	for i, org := range orgs {
		lasts[i] = last[org]
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO event_sequences (org, last) SELECT * FROM unnest($1::text[], $2::bigint[])
		ON CONFLICT (org) DO UPDATE SET last = excluded.last`, orgs, lasts); err != nil {
		return fmt.Errorf("recording sequence numbers: %w", err)
	}
	return nil
}

// lockNumbering takes the numbering's lock for the rest of tx: numbering passes, and the deletion
// of an organization's numbers, run one at a time, so a pass never leaves a number behind an
// event deleted with its organization (owners.go).
func lockNumbering(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, numberingLock); err != nil {
		return fmt.Errorf("taking the numbering lock: %w", err)
	}
	return nil
}

// readLasts reads the organizations' last sequence numbers.
func readLasts(ctx context.Context, tx *sql.Tx, orgs []string) (map[string]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT org, last FROM event_sequences WHERE org = ANY($1)`, orgs)
	if err != nil {
		return nil, fmt.Errorf("reading sequence numbers: %w", err)
	}
	defer func() { _ = rows.Close() }()
	last := make(map[string]int64, len(orgs))
	for rows.Next() {
		var (
			org string
			l   int64
		)
		if err := rows.Scan(&org, &l); err != nil {
			return nil, err
		}
		last[org] = l
	}
	return last, rows.Err()
}
