package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// pipelinedDB is a database/sql pool of one pipelined connection (pipelined_tx.go), so that every
// transaction of a test runs on the connection the one before it left, and a table of its own.
func pipelinedDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	dsn := os.Getenv("EIO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("EIO_TEST_POSTGRES_DSN is not set; make test starts a throwaway PostgreSQL server and sets it")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(pipelinedConnector{stdlib.GetConnector(*cfg)})
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	table := fmt.Sprintf("pipelined_%d", time.Now().UnixNano())
	if _, err := db.ExecContext(context.Background(), `CREATE TABLE `+table+` (id int PRIMARY KEY, v text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db, table
}

func roundTrips(t *testing.T, want int64, since int64, what string) {
	t.Helper()
	if got := pipelinedRoundTrips.Load() - since; got != want {
		t.Fatalf("%s: %d pipelines, want %d", what, got, want)
	}
}

func rowsOf(t *testing.T, db *sql.DB, table string) map[int]string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT id, v FROM `+table)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	out := map[int]string{}
	for rows.Next() {
		var (
			id int
			v  string
		)
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A transaction's first statement goes with its BEGIN and its held statements with its COMMIT,
// one round trip each; a read after a held statement sees it; an empty transaction sends nothing.
func TestPipelinedTransactionsSendBeginAndCommitWithTheirStatements(t *testing.T) {
	db, table := pipelinedDB(t)
	ctx := context.Background()

	before := pipelinedRoundTrips.Load()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (id, v) VALUES ($1, $2)`, 1, "one"); err != nil {
		t.Fatal(err)
	}
	roundTrips(t, 1, before, "BEGIN with the first statement")
	for i, v := range []string{"two", "three"} {
		if _, err := tx.ExecContext(holdUntilNext(ctx), `INSERT INTO `+table+` (id, v) VALUES ($1, $2)`, i+2, v); err != nil {
			t.Fatal(err)
		}
	}
	roundTrips(t, 1, before, "held statements")
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil || n != 3 {
		t.Fatalf("a read after held statements counts %d rows (%v), want 3", n, err)
	}
	roundTrips(t, 2, before, "a read with the held statements")
	if _, err := tx.ExecContext(holdUntilNext(ctx), `UPDATE `+table+` SET v = $1 WHERE id = $2`, "ONE", 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	roundTrips(t, 3, before, "COMMIT with the held statement")
	if got, want := rowsOf(t, db, table), map[int]string{1: "ONE", 2: "two", 3: "three"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("committed %v, want %v", got, want)
	}

	before = pipelinedRoundTrips.Load()
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	roundTrips(t, 0, before, "empty transactions")

	// BEGIN, held statements and COMMIT alone: one round trip.
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(holdUntilNext(ctx), `INSERT INTO `+table+` (id, v) VALUES ($1, $2)`, 4, "four"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	roundTrips(t, 1, before, "a transaction of held statements")
	if got := rowsOf(t, db, table); got[4] != "four" {
		t.Fatalf("committed %v, want row 4", got)
	}
}

// A held statement that fails fails the COMMIT it went with: the transaction leaves nothing, the
// error is PostgreSQL's (the store tells a unique violation by it), and the connection serves
// the next transaction. A rolled back transaction's held statements never run.
func TestPipelinedTransactionsThatFailLeaveNothing(t *testing.T) {
	db, table := pipelinedDB(t)
	ctx := context.Background()
	if _, err := db.ExecContext(context.Background(), `INSERT INTO `+table+` (id, v) VALUES (1, 'one')`); err != nil {
		t.Fatal(err)
	}
	d := postgresDialect{}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (id, v) VALUES (2, 'two')`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(holdUntilNext(ctx), `INSERT INTO `+table+` (id, v) VALUES (1, 'again')`); err != nil {
		t.Fatalf("a held statement fails only when it is sent: %v", err)
	}
	if err := tx.Commit(); err == nil || !d.isUniqueViolation(err) {
		t.Fatalf("COMMIT with a failing held statement: %v, want a unique violation", err)
	}

	// The failing statement first in its transaction, with BEGIN.
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 / (id - 1) FROM `+table+` WHERE id = 1`).Scan(&one); err == nil {
		t.Fatal("a division by zero with BEGIN did not fail")
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	// A held statement of a transaction rolled back never runs.
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(holdUntilNext(ctx), `INSERT INTO `+table+` (id, v) VALUES (3, 'three')`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}

	if got, want := rowsOf(t, db, table), map[int]string{1: "one"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after failed and rolled back transactions the table holds %v, want %v", got, want)
	}
	// The one connection is not left in a transaction: the next one commits.
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (id, v) VALUES (5, 'five')`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(t, db, table); got[5] != "five" {
		t.Fatalf("the transaction after the failures did not commit: %v", got)
	}
}

// A query that goes with BEGIN gives database/sql the values pgx's own rows give for every
// column type the store reads, NULLs included, row after row.
func TestPipelinedQueryWithBeginScansAsPgxDoes(t *testing.T) {
	db, _ := pipelinedDB(t)
	ctx := context.Background()
	const query = `SELECT g, g::int2, g::int4, true, g::text, NULL::text, ('{"a":' || g || '}')::jsonb, ('{"b":' || g || '}')::json,
		g / 2.0::float8, g::float4, '\x01ff'::bytea, to_timestamp(g), '2026-12-02 10:00:00'::timestamp, pg_current_xact_id(), 12.5::numeric
		FROM generate_series(1, 3) AS s(g) ORDER BY 1`
	read := func(q interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}) [][]any {
		rows, err := q.QueryContext(ctx, query)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = rows.Close() }()
		var out [][]any
		for rows.Next() {
			vals := make([]any, 15)
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out = append(out, vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := pipelinedRoundTrips.Load()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	withBegin := read(tx) // with BEGIN, through the batch's rows
	roundTrips(t, 1, before, "the query with BEGIN")
	plain := read(tx) // inside the transaction: pgx's own database/sql rows
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if len(withBegin) != 3 {
		t.Fatalf("read %d rows with BEGIN, want 3", len(withBegin))
	}
	for i := range plain {
		// The transaction's id is the same in both reads; everything else is the row's.
		if !reflect.DeepEqual(withBegin[i], plain[i]) {
			t.Errorf("row %d with BEGIN:\n  %#v\npgx's:\n  %#v", i, withBegin[i], plain[i])
		}
	}
	if withBegin[0][5] != nil {
		t.Errorf("NULL read as %#v", withBegin[0][5])
	}
}

// A held statement is bounded: past maxHeldStatements the statements go ahead, in order.
func TestPipelinedTransactionsHoldABoundedNumberOfStatements(t *testing.T) {
	db, table := pipelinedDB(t)
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := pipelinedRoundTrips.Load()
	for i := range 3 * maxHeldStatements {
		if _, err := tx.ExecContext(holdUntilNext(ctx), `INSERT INTO `+table+` (id, v) VALUES ($1, $2)`, i, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Each time maxHeldStatements are held the next one goes with them: two pipelines, six left.
	if got := pipelinedRoundTrips.Load() - before; got != 2 {
		t.Fatalf("%d held statements went in %d pipelines, want 2", 3*maxHeldStatements, got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(t, db, table); len(got) != 3*maxHeldStatements {
		t.Fatalf("committed %d rows, want %d", len(got), 3*maxHeldStatements)
	}
}
