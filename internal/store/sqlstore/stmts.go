package sqlstore

import (
	"context"
	"database/sql"
)

// maxCachedStatements bounds the prepared-statement cache: list queries differ by filter shape,
// and a client must not grow the cache without limit.
const maxCachedStatements = 512

// prepared returns a cached prepared statement for query (already rebound), or nil when the cache
// is full or preparing failed (the caller then runs the query unprepared). Preparing once saves
// SQLite re-parsing every statement, a measurable share of a lookup's cost.
func (s *Store) prepared(ctx context.Context, query string) *sql.Stmt {
	if v, ok := s.stmts.Load(query); ok {
		return v.(*sql.Stmt)
	}
	if s.stmtCount.Load() >= maxCachedStatements {
		return nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if actual, loaded := s.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close() // lost a race: the cached statement is used instead
		return actual.(*sql.Stmt)
	}
	s.stmtCount.Add(1)
	return st
}

// inTxStatement is the cached statement for use inside a transaction, or nil. It never prepares
// there: preparing takes a second pooled connection while the transaction holds one (and, on
// SQLite, the write lock), which deadlocks once every connection waits for that lock. A missing
// statement is prepared in the background instead, for the next request.
func (s *Store) inTxStatement(query string) *sql.Stmt {
	if v, ok := s.stmts.Load(query); ok {
		return v.(*sql.Stmt)
	}
	go s.prepared(context.Background(), query)
	return nil
}

func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	var st *sql.Stmt
	if tx != nil {
		st = s.inTxStatement(query)
	} else {
		st = s.prepared(ctx, query)
	}
	switch {
	case st != nil && tx != nil:
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...) // closed with the transaction
	case st != nil:
		return st.QueryRowContext(ctx, args...)
	case tx != nil:
		return tx.QueryRowContext(ctx, query, args...)
	}
	return s.db.QueryRowContext(ctx, query, args...)
}

func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := s.prepared(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.db.QueryContext(ctx, query, args...)
}

func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.inTxStatement(query); st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...) // closed with the transaction
	}
	return tx.ExecContext(ctx, query, args...)
}

// closeStatements releases the cached statements.
func (s *Store) closeStatements() {
	s.stmts.Range(func(_, v any) bool {
		_ = v.(*sql.Stmt).Close()
		return true
	})
}
