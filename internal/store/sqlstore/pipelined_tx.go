package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// A transaction on PostgreSQL sends its BEGIN with its first statement and its COMMIT with its
// last, each in one pipeline (a pgx batch), instead of a round trip each: every round trip costs
// both processes a wake-up and a system call pair, about as much CPU as a short statement
// (decision 0016). The store keeps database/sql's *sql.Tx everywhere; this driver connection
// under it does the pipelining, so no store method changes shape:
//
//   - BeginTx (default options) sends nothing; the transaction's first statement goes with BEGIN.
//   - A statement run with holdUntilNext(ctx), whose result nobody reads (the write's held
//     statements and events, pending_writes.go), is held and goes with the transaction's next
//     statement, or with its COMMIT. Its error, if any, is that statement's or the Commit's.
//   - Commit sends whatever is held with COMMIT; a transaction that sent nothing sends nothing.
//   - Rollback drops what is held and sends ROLLBACK only when BEGIN went.

// pipelinedConnector makes pgx's database/sql connections pipelinedConns.
type pipelinedConnector struct{ driver.Connector }

func (c pipelinedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := dc.(*stdlib.Conn)
	if !ok {
		return nil, fmt.Errorf("pipelined transactions need pgx's database/sql connection, got %T", dc)
	}
	return &pipelinedConn{Conn: sc}, nil
}

// pipelinedConn is pgx's database/sql connection with pipelined transactions. database/sql uses
// a connection from one goroutine at a time, so its state needs no lock.
type pipelinedConn struct {
	*stdlib.Conn
	tx *pipelinedTx // the open pipelined transaction, nil outside one
}

// pipelinedTx is a transaction whose BEGIN may not have gone yet, with the statements it holds.
type pipelinedTx struct {
	c     *pipelinedConn
	ctx   context.Context // BeginTx's, as pgx's own database/sql transaction uses it for COMMIT
	begun bool            // BEGIN went to the server
	held  []heldStatement
}

type heldStatement struct {
	query string
	args  []any
}

// maxHeldStatements bounds what a transaction holds: past it the held statements go ahead.
const maxHeldStatements = 8

type holdKey struct{}

// holdUntilNext marks a statement whose result nobody reads: in a pipelined transaction it goes
// with the next statement or the COMMIT. Elsewhere (SQLite, or outside a transaction) it runs at once.
func holdUntilNext(ctx context.Context) context.Context {
	return context.WithValue(ctx, holdKey{}, true)
}

func (c *pipelinedConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.tx != nil {
		return nil, errors.New("a transaction is already open on this connection")
	}
	if opts.Isolation != driver.IsolationLevel(0) || opts.ReadOnly {
		return c.Conn.BeginTx(ctx, opts) // not the store's kind: pgx's own, BEGIN at once
	}
	if c.Conn.Conn().IsClosed() {
		return nil, driver.ErrBadConn
	}
	c.tx = &pipelinedTx{c: c, ctx: ctx}
	return c.tx, nil
}

// PrepareContext wraps pgx's statement so that running it inside a transaction is pipelined too.
func (c *pipelinedConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.Conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &pipelinedStmt{Stmt: st, c: c, query: query}, nil
}

// leadKey marks a statement outside a transaction that goes after another (afterLead).
type leadKey struct{}

// afterLead marks a statement run outside a transaction on PostgreSQL to go after lead in one
// pipeline. A pipeline without BEGIN is one implicit transaction: what lead takes (the
// organization's fence) is held until the statement commits, for no round trip of its own.
func afterLead(ctx context.Context, query string, args ...any) context.Context {
	return context.WithValue(ctx, leadKey{}, heldStatement{query: query, args: args})
}

func (c *pipelinedConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	t, hold := c.tx, ctx.Value(holdKey{}) != nil
	if lead, ok := ctx.Value(leadKey{}).(heldStatement); ok && t == nil {
		return c.execAfter(ctx, lead, query, namedArgs(args))
	}
	if t == nil || (t.begun && len(t.held) == 0 && !hold) {
		return c.Conn.ExecContext(ctx, query, args)
	}
	if hold && len(t.held) < maxHeldStatements {
		t.held = append(t.held, heldStatement{query: query, args: namedArgs(args)})
		return heldResult{}, nil
	}
	br, err := t.sendWith(ctx, query, namedArgs(args))
	if err != nil {
		return nil, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (c *pipelinedConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	t := c.tx
	if t == nil || (t.begun && len(t.held) == 0) {
		return c.Conn.QueryContext(ctx, query, args)
	}
	br, err := t.sendWith(ctx, query, namedArgs(args))
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return newBatchRows(c.Conn.Conn(), rows, br)
}

// execAfter runs lead and then the statement, in one pipeline and one implicit transaction.
func (c *pipelinedConn) execAfter(ctx context.Context, lead heldStatement, query string, args []any) (driver.Result, error) {
	b := &pgx.Batch{}
	b.Queue(lead.query, lead.args...)
	b.Queue(query, args...)
	pipelinedRoundTrips.Add(1)
	br := c.Conn.Conn().SendBatch(ctx, b)
	_, err := br.Exec()
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

// ResetSession forgets a transaction database/sql has let go of (it always ends one with Commit
// or Rollback first; this is a guard) before pgx's checks.
func (c *pipelinedConn) ResetSession(ctx context.Context) error {
	c.tx = nil
	return c.Conn.ResetSession(ctx)
}

// sendWith sends BEGIN (when it has not gone), the held statements and one more, in one pipeline,
// and reads the results before the last: a held statement's error is returned here.
func (t *pipelinedTx) sendWith(ctx context.Context, query string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	if !t.begun {
		b.Queue("begin")
	}
	for _, h := range t.held {
		b.Queue(h.query, h.args...)
	}
	b.Queue(query, args...)
	pipelinedRoundTrips.Add(1)
	ahead := len(b.QueuedQueries) - 1
	t.begun, t.held = true, nil
	br := t.c.Conn.Conn().SendBatch(ctx, b)
	for range ahead {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

func (t *pipelinedTx) Commit() error {
	defer t.end()
	if !t.begun && len(t.held) == 0 {
		return nil // nothing was sent: there is nothing to commit
	}
	br, err := t.sendWith(t.ctx, "commit", nil)
	if err == nil {
		var tag pgconn.CommandTag
		tag, err = br.Exec()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err == nil && tag.String() != "COMMIT" {
			err = pgx.ErrTxCommitRollback // the transaction had failed: PostgreSQL rolled it back
		}
	}
	if err != nil {
		t.abandon()
	}
	return err
}

func (t *pipelinedTx) Rollback() error {
	defer t.end()
	t.held = nil
	if !t.begun {
		return nil
	}
	if _, err := t.c.Conn.Conn().Exec(t.ctx, "rollback"); err != nil {
		t.abandon()
		return err
	}
	return nil
}

// abandon leaves no transaction open on a connection whose COMMIT or ROLLBACK failed: it rolls
// back what is left, or closes the connection (database/sql then discards it: ResetSession).
func (t *pipelinedTx) abandon() {
	conn := t.c.Conn.Conn()
	if conn.IsClosed() || conn.PgConn().TxStatus() == 'I' {
		return
	}
	if _, err := conn.Exec(context.Background(), "rollback"); err != nil {
		_ = conn.Close(context.Background())
	}
}

func (t *pipelinedTx) end() {
	if t.c.tx == t {
		t.c.tx = nil
	}
}

// pipelinedStmt is pgx's prepared statement run through its connection's pipelining. pgx
// prepares a database/sql statement under its own text as name, so the name runs it.
type pipelinedStmt struct {
	driver.Stmt
	c     *pipelinedConn
	query string
}

func (s *pipelinedStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}

func (s *pipelinedStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

// pipelinedRoundTrips counts the pipelines sent (tests check the path is taken).
var pipelinedRoundTrips atomic.Int64

// heldResult is the result of a held statement: nobody reads it.
type heldResult struct{}

func (heldResult) LastInsertId() (int64, error) {
	return 0, errors.New("the statement is held: no result")
}
func (heldResult) RowsAffected() (int64, error) {
	return 0, errors.New("the statement is held: no result")
}

func namedArgs(nv []driver.NamedValue) []any {
	args := make([]any, len(nv))
	for i, v := range nv {
		args[i] = v.Value
	}
	return args
}
