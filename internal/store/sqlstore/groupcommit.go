package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// maxBatch bounds how many writes share one SQLite transaction.
const maxBatch = 64

// committer runs SQLite writes through one goroutine, several per transaction ("group commit"):
// SQLite has a single writer and every commit pays an fsync, so writes that queue up while one
// commits are run together. A batch first runs without savepoints; when one of its writes fails,
// it runs again with each write inside its own savepoint, and the failed write is rolled back to
// its savepoint alone. Every write is acknowledged only after the shared commit, so nothing
// acknowledged can be lost.
type committer struct {
	db   *sql.DB
	reqs chan *writeRequest
	stop chan struct{}
	done chan struct{}
}

type writeRequest struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
}

func newCommitter(db *sql.DB) *committer {
	c := &committer{db: db, reqs: make(chan *writeRequest), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// do runs fn in a transaction shared with other writes and returns its outcome once committed.
func (c *committer) do(ctx context.Context, fn func(*sql.Tx) error) error {
	r := &writeRequest{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		return errors.New("the store is closed")
	}
	return <-r.done
}

func (c *committer) close() {
	close(c.stop)
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	for {
		var first *writeRequest
		select {
		case first = <-c.reqs:
		case <-c.stop:
			return
		}
		batch := []*writeRequest{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		c.commit(batch)
	}
}

func (c *committer) commit(batch []*writeRequest) {
	// fail (or, with nil, succeed) every write of the batch at once.
	fail := func(err error) {
		for _, r := range batch {
			r.done <- err
		}
	}
	// storeFailed fails the batch for the database's own error (not a write's), counted as such.
	start := time.Now()
	storeFailed := func(err error) {
		observeCommit(start, len(batch), err)
		fail(err)
	}
	tx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		storeFailed(fmt.Errorf("beginning a transaction: %w", err))
		return
	}
	if len(batch) == 1 { // alone: the transaction is its savepoint
		if err := runWrite(batch[0].fn, tx); err != nil {
			_ = tx.Rollback()
			fail(err)
			return
		}
		if err := tx.Commit(); err != nil {
			storeFailed(fmt.Errorf("committing: %w", err))
			return
		}
		observeCommit(start, 1, nil)
		fail(nil)
		return
	}
	if c.commitWithoutSavepoints(tx, batch, start) {
		return
	}
	// A write failed: run the batch again, each write inside a savepoint of its own.
	c.commitWithSavepoints(batch, start, storeFailed)
}

// commitWithSavepoints runs the batch's writes each inside a savepoint of its own, rolling a
// failed one back to its savepoint alone, and commits. A write whose request went away while it
// ran was interrupted, and SQLite rolls back the whole transaction for an interrupted write (as
// for some other errors, which its savepoint's closing then tells): the batch then runs again
// without it (each time one write fewer, so at most once per write).
func (c *committer) commitWithSavepoints(batch []*writeRequest, start time.Time, storeFailed func(error)) {
	results := make([]error, len(batch))
	decided := make([]bool, len(batch))
	for again := true; again; {
		again = false
		tx, err := c.db.BeginTx(context.Background(), nil)
		if err != nil {
			storeFailed(fmt.Errorf("beginning a transaction: %w", err))
			return
		}
		for i, r := range batch {
			if decided[i] {
				continue
			}
			if err := r.ctx.Err(); err != nil {
				results[i], decided[i] = err, true
				continue
			}
			var lost bool
			results[i], lost, err = runInSavepoint(tx, r)
			if err != nil {
				_ = tx.Rollback()
				storeFailed(err)
				return
			}
			if lost { // the rest run again without it
				decided[i], again = true, true
				_ = tx.Rollback()
				break
			}
		}
		if again {
			continue
		}
		if err := tx.Commit(); err != nil {
			storeFailed(fmt.Errorf("committing: %w", err))
			return
		}
	}
	observeCommit(start, len(batch), nil)
	for i, r := range batch {
		r.done <- results[i]
	}
}

// commitWithoutSavepoints runs the batch's writes in tx without savepoints (two statements less
// per write) and commits them, answering every write; when one fails it rolls everything back and
// returns false, and the batch runs again with savepoints. Writes fail rarely, and each reads what
// it decides on inside the transaction, so running one again is safe.
func (c *committer) commitWithoutSavepoints(tx *sql.Tx, batch []*writeRequest, start time.Time) bool {
	results := make([]error, len(batch))
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err // left out, in both ways of running the batch
			continue
		}
		if err := runWrite(r.fn, tx); err != nil {
			_ = tx.Rollback()
			return false
		}
	}
	if err := tx.Commit(); err != nil {
		observeCommit(start, len(batch), err)
		for _, r := range batch {
			r.done <- fmt.Errorf("committing: %w", err)
		}
		return true
	}
	observeCommit(start, len(batch), nil)
	for i, r := range batch {
		r.done <- results[i]
	}
	return true
}

// runWrite runs one write, turning a panic into its error so the other writes of the batch and
// the committer survive it.
func runWrite(fn func(*sql.Tx) error, tx *sql.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write panicked: %v", p)
		}
	}()
	return fn(tx)
}

// runInSavepoint runs r's write inside a savepoint of its own, rolled back alone when the write
// fails. lost says SQLite rolled back the whole transaction for it: its request went away while
// it ran (perhaps interrupted, perhaps not: the transaction is in doubt), or the savepoint could
// not be closed (an interruption that came late, a full disk, no memory). err is the database's
// own failure to open a savepoint.
func runInSavepoint(tx *sql.Tx, r *writeRequest) (result error, lost bool, err error) {
	if _, err := tx.ExecContext(context.Background(), `SAVEPOINT write`); err != nil {
		return nil, false, fmt.Errorf("opening a savepoint: %w", err)
	}
	result = runWrite(r.fn, tx)
	if ctxErr := r.ctx.Err(); ctxErr != nil {
		return ctxErr, true, nil
	}
	undo := `RELEASE write`
	if result != nil {
		undo = `ROLLBACK TO write; RELEASE write`
	}
	if _, err := tx.ExecContext(context.Background(), undo); err != nil {
		if result == nil {
			result = fmt.Errorf("closing a savepoint: %w", err)
		}
		return result, true, nil
	}
	return result, false, nil
}
