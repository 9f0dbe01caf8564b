package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// pendingWrites holds, on PostgreSQL, the statements of a write whose results nobody reads (the
// member, its employee record and history, audit rows) and sends them as one statement: all but
// the last as data-modifying WITH queries. A create went from twelve round trips to the database
// to seven; each round trip costs both processes a system call pair and a wake-up
// (docs/performance.md). Every read in the write sends what is held first, so reads see it.
//
// The sub-statements of one statement cannot see each other's effects, and two that change the
// same row make the outcome undefined: a statement that updates (or upserts into) a table with a
// statement already held for it sends the held ones first. Inserts of new rows (history, audit,
// holds) may share a statement.
type pendingWrites struct {
	stmts   []string // with '?' placeholders
	args    []any
	updates map[string]bool // tables with a held update or upsert
	// audit holds audit rows: no write reads the audit log, so they wait for the write's last
	// statement instead of going before the next read, as one insert that keeps their order.
	auditRows int
	auditArgs []any
}

// maxPendingStatements and maxHeldAuditRows bound one combined statement.
const (
	maxPendingStatements = 16
	maxHeldAuditRows     = 50
)

// takeAudit moves the held audit rows into the held statements, as one insert.
func (w *pendingWrites) takeAudit() {
	if w.auditRows == 0 {
		return
	}
	rows := make([]string, w.auditRows)
	for i := range rows {
		rows[i] = "(" + inList(len(auditColumns)) + ")"
	}
	w.stmts = append(w.stmts, auditInsertPrefix+strings.Join(rows, ", "))
	w.args = append(w.args, w.auditArgs...)
	w.auditRows, w.auditArgs = 0, nil
}

// heldWrite is one statement for write.
type heldWrite struct {
	table string
	// inserts: the statement only inserts new rows, never touching an existing one.
	inserts bool
	// audit: an audit row (auditValues), held until the write's end.
	audit bool
	query string
	args  []any
}

// write runs a statement whose result nothing reads; on PostgreSQL it is held for the next
// statement of the write (flush).
func (p provisioningTx) write(ctx context.Context, w heldWrite) error {
	p.ahead.written(w.table)
	if p.w == nil {
		return p.exec(ctx, w.query, w.args...)
	}
	if w.audit && p.w.auditRows < maxHeldAuditRows {
		p.w.auditRows++
		p.w.auditArgs = append(p.w.auditArgs, w.args...)
		return nil
	}
	if len(p.w.stmts) == maxPendingStatements || (!w.inserts && p.w.updates[w.table]) {
		if err := p.flush(ctx); err != nil {
			return err
		}
	}
	p.w.stmts = append(p.w.stmts, w.query)
	p.w.args = append(p.w.args, w.args...)
	if !w.inserts {
		if p.w.updates == nil {
			p.w.updates = map[string]bool{}
		}
		p.w.updates[w.table] = true
	}
	return nil
}

// flush sends the held statements before any other statement of the write.
func (p provisioningTx) flush(ctx context.Context) error {
	if p.speculation != nil {
		return errSpeculation
	}
	if p.w == nil || len(p.w.stmts) == 0 {
		return nil
	}
	return p.send(ctx)
}

// finish sends everything still held, the audit rows too: the write's last statement.
func (p provisioningTx) finish(ctx context.Context) error {
	if p.w == nil || p.speculation != nil { // a speculation's caller sends it all (createInOneStatement)
		return nil
	}
	p.w.takeAudit()
	if len(p.w.stmts) == 0 {
		return nil
	}
	return p.send(ctx)
}

// send sends the held statements as one, itself held in the transaction until its next
// statement or its COMMIT (pipelined_tx.go): nobody reads its result.
func (p provisioningTx) send(ctx context.Context) error {
	query, args := p.w.take("", "")
	if _, err := p.s.exec(holdUntilNext(ctx), p.tx, p.s.q(query), args...); err != nil {
		return fmt.Errorf("recording the write: %w", err)
	}
	return nil
}

// take empties the buffer into one statement: the held statements as WITH queries named w0, w1,
// …, after the WITH queries in with (with their names), and then final; with no final statement
// the last held one is the main statement. Arguments follow the order of their placeholders.
func (w *pendingWrites) take(with, final string) (string, []any) {
	if final != "" { // the write's last statement: the audit rows go with it
		w.takeAudit()
	}
	stmts, args := w.stmts, w.args
	w.stmts, w.args, w.updates = nil, nil, nil
	if final == "" {
		final, stmts = stmts[len(stmts)-1], stmts[:len(stmts)-1]
	}
	if with == "" && len(stmts) == 0 {
		return final, args
	}
	var b strings.Builder
	b.WriteString("WITH ")
	b.WriteString(with)
	for i, st := range stmts {
		if i > 0 || with != "" {
			b.WriteString(", ")
		}
		b.WriteString("w" + strconv.Itoa(i) + " AS (" + st + ")")
	}
	b.WriteString(" ")
	b.WriteString(final)
	return b.String(), args
}

// newProvisioningTx is provisioning.Tx on tx, holding writes on PostgreSQL.
func (s *Store) newProvisioningTx(tx *sql.Tx) provisioningTx {
	p := provisioningTx{s: s, tx: tx}
	if s.d.name() == "postgres" {
		p.w = &pendingWrites{}
	}
	return p
}
