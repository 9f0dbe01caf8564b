package sqlstore

import (
	"context"
	"database/sql"
	"sync"

	"github.com/z8z8/enterprise-identity-operator/internal/sizedlru"
)

// Preparing once saves SQLite re-parsing every statement, a measurable share of a lookup's cost.
// List queries differ by filter shape, which the client chooses, so the cache is an LRU bounded
// by estimated bytes (a prepared statement costs memory on every pooled connection that ran it),
// and a statement longer than maxCachedQuery (a filter near its term limit) is never cached: it
// would evict many common ones to serve one rare one.
const (
	maxCachedStatements = 1024
	maxStatementBytes   = 8 << 20
	maxCachedQuery      = 16 << 10
)

// statementCost estimates a prepared statement's memory: SQLite's compiled program grows with
// the statement's text, plus fixed bookkeeping, on each connection it was used on.
func statementCost(query string) int64 { return 2048 + 16*int64(len(query)) }

// cachedStmt is a statement with the number of queries using it. An evicted statement is closed
// only once unused: database/sql keeps a closed statement's open Rows and transaction copies
// working, but a query started on it after Close fails, and a query can fetch a statement just
// before another goroutine's insert evicts it.
type cachedStmt struct {
	st      *sql.Stmt
	refs    int  // guarded by stmtCache.mu
	evicted bool // guarded by stmtCache.mu
}

type stmtCache struct {
	mu        sync.Mutex // guards refs, evicted and preparing
	lru       *sizedlru.Cache[string, *cachedStmt]
	preparing map[string]bool
	closed    bool
	// background counts the preparations in the background (inTxStatement): each holds a
	// pooled connection, which must be back before the store closes its database, or it
	// outlives Close (and, on SQLite, writes its files after the caller removed them).
	background sync.WaitGroup
}

func newStmtCache(maxEntries int, maxBytes int64) *stmtCache {
	c := &stmtCache{preparing: map[string]bool{}}
	c.lru = sizedlru.New(maxEntries, maxBytes, func(_ string, cs *cachedStmt) {
		c.mu.Lock()
		cs.evicted = true
		unused := cs.refs == 0
		c.mu.Unlock()
		if unused {
			_ = cs.st.Close()
		}
	})
	return c
}

// acquire returns the cached statement of query, held until release; nil when not cached.
func (c *stmtCache) acquire(query string) *cachedStmt {
	cs, ok := c.lru.Get(query)
	if !ok {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs.evicted {
		return nil
	}
	cs.refs++
	return cs
}

func (c *stmtCache) release(cs *cachedStmt) {
	c.mu.Lock()
	cs.refs--
	unused := cs.evicted && cs.refs == 0
	c.mu.Unlock()
	if unused {
		_ = cs.st.Close()
	}
}

// add caches a newly prepared statement and returns it held, or nil (st closed) when it cannot
// be cached: too long, or the store is closing.
func (c *stmtCache) add(query string, st *sql.Stmt) *cachedStmt {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed || len(query) > maxCachedQuery {
		_ = st.Close()
		return nil
	}
	if cs := c.acquire(query); cs != nil {
		_ = st.Close() // lost a race: the cached statement is used instead
		return cs
	}
	cs := &cachedStmt{st: st, refs: 1}
	if !c.lru.Add(query, cs, statementCost(query)) {
		_ = st.Close()
		return nil
	}
	return cs
}

// close releases every statement, after the preparations in the background; statements in use
// close when released.
func (c *stmtCache) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.background.Wait()
	c.lru.Purge()
}

// prepared returns the held cached statement for query (already rebound), preparing it when
// missing, or nil when it cannot be cached (the caller then runs the query unprepared).
func (s *Store) prepared(ctx context.Context, query string) *cachedStmt {
	if cs := s.stmts.acquire(query); cs != nil {
		return cs
	}
	if len(query) > maxCachedQuery {
		return nil
	}
	st, err := s.db.PrepareContext(ctx, query) //nolint:gosec // built from the code and schema paths; client values are parameters (filter.go)
	if err != nil {
		return nil
	}
	return s.stmts.add(query, st)
}

// inTxStatement is the held cached statement for use inside a transaction, or nil. It never
// prepares there: preparing takes a second pooled connection while the transaction holds one
// (and, on SQLite, the write lock), which deadlocks once every connection waits for that lock. A
// missing statement is prepared in the background instead (once at a time per query), for the
// next request.
func (s *Store) inTxStatement(query string) *cachedStmt {
	if cs := s.stmts.acquire(query); cs != nil {
		return cs
	}
	if len(query) > maxCachedQuery {
		return nil
	}
	c := s.stmts
	c.mu.Lock()
	busy := c.preparing[query] || c.closed
	c.preparing[query] = true
	if !busy {
		c.background.Add(1) // under mu: close cannot have begun waiting
	}
	c.mu.Unlock()
	if !busy {
		go func() {
			defer c.background.Done()
			if cs := s.prepared(context.Background(), query); cs != nil {
				c.release(cs)
			}
			c.mu.Lock()
			delete(c.preparing, query)
			c.mu.Unlock()
		}()
	}
	return nil
}

// A query keeps its statement held only while it starts: the Rows (or Row) it returns, and a
// transaction's copy of the statement, keep what they need open themselves (database/sql
// closes a statement's connections' copies only when the last of them is done).

func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	var cs *cachedStmt
	if tx != nil {
		cs = s.inTxStatement(query)
	} else {
		cs = s.prepared(ctx, query)
	}
	if cs != nil {
		defer s.stmts.release(cs)
	}
	switch {
	case cs != nil && tx != nil:
		return tx.StmtContext(ctx, cs.st).QueryRowContext(ctx, args...) // closed with the transaction
	case cs != nil:
		return cs.st.QueryRowContext(ctx, args...)
	case tx != nil:
		return tx.QueryRowContext(ctx, query, args...)
	}
	return s.db.QueryRowContext(ctx, query, args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if cs := s.prepared(ctx, query); cs != nil {
		defer s.stmts.release(cs)
		return cs.st.QueryContext(ctx, args...)
	}
	return s.db.QueryContext(ctx, query, args...) //nolint:gosec // built from the code and schema paths; client values are parameters (filter.go)
}

// execOutsideTx runs a statement in a transaction of its own (autocommit).
func (s *Store) execOutsideTx(ctx context.Context, query string, args ...any) error {
	if cs := s.prepared(ctx, query); cs != nil {
		defer s.stmts.release(cs)
		_, err := cs.st.ExecContext(ctx, args...)
		return err
	}
	_, err := s.db.ExecContext(ctx, query, args...)
	return err
}

func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if cs := s.inTxStatement(query); cs != nil {
		defer s.stmts.release(cs)
		return tx.StmtContext(ctx, cs.st).ExecContext(ctx, args...) // closed with the transaction
	}
	return tx.ExecContext(ctx, query, args...)
}

// closeStatements releases the cached statements.
func (s *Store) closeStatements() { s.stmts.close() }
