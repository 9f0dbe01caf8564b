package sqlstore

import (
	"strings"
	"testing"
)

func TestHeldWritesBecomeOneStatement(t *testing.T) {
	w := &pendingWrites{}
	w.stmts, w.args = []string{"INSERT INTO a VALUES (?)"}, []any{1}
	if q, args := w.take("", ""); q != "INSERT INTO a VALUES (?)" || len(args) != 1 {
		t.Fatalf("one statement is sent as it is: %q %v", q, args)
	}
	w.stmts, w.args = []string{"INSERT INTO a VALUES (?)", "UPDATE b SET x = ? WHERE y = ?"}, []any{1, 2, 3}
	q, args := w.take("", "")
	if q != "WITH w0 AS (INSERT INTO a VALUES (?)) UPDATE b SET x = ? WHERE y = ?" || len(args) != 3 || args[0] != 1 || args[2] != 3 {
		t.Fatalf("two statements: %q %v", q, args)
	}
	if len(w.stmts) != 0 || len(w.args) != 0 {
		t.Fatal("take empties the buffer")
	}

	// Audit rows wait for the last statement and go as one insert, in the order they came.
	w.stmts, w.args = []string{"INSERT INTO a VALUES (?)"}, []any{"a"}
	w.auditRows, w.auditArgs = 2, make([]any, 2*len(auditColumns))
	w.auditArgs[0], w.auditArgs[len(auditColumns)] = "first", "second"
	q, args = w.take("x AS (SELECT 1)", "INSERT INTO final SELECT ?")
	want := "WITH x AS (SELECT 1), w0 AS (INSERT INTO a VALUES (?)), w1 AS (" + auditInsertPrefix
	if !strings.HasPrefix(q, want) || !strings.HasSuffix(q, ") INSERT INTO final SELECT ?") || strings.Count(q, "?") != 1+2*len(auditColumns)+1 {
		t.Fatalf("final statement: %q", q)
	}
	if len(args) != 1+2*len(auditColumns) || args[0] != "a" || args[1] != "first" || args[1+len(auditColumns)] != "second" {
		t.Fatalf("arguments follow their placeholders: %v", args)
	}
	if w.auditRows != 0 || w.auditArgs != nil {
		t.Fatal("the audit rows were taken")
	}
}
