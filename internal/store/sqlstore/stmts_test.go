package sqlstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

func openTestSQLite(t *testing.T) *Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openTestPostgres opens the store on the test PostgreSQL, closed when the test ends.
func openTestPostgres(t *testing.T) *Store {
	t.Helper()
	dsn := os.Getenv("EIO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("EIO_TEST_POSTGRES_DSN is not set; make test starts a throwaway PostgreSQL server and sets it")
	}
	s, err := OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// shapeFilter is the i-th of many distinct filter shapes (each a different list statement).
func shapeFilter(t *testing.T, i int) filter.Expression {
	t.Helper()
	terms := make([]string, 0, i%7+1)
	for j := range i%7 + 1 {
		terms = append(terms, fmt.Sprintf(`userName eq "u%d"`, j))
	}
	text := strings.Join(terms, " or ") + strings.Repeat(` and title pr`, i/7%50)
	expr, err := filter.ParseFilter([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return expr
}

// The prepared-statement cache is an LRU bounded by estimated bytes: clients choose filter
// shapes, so they must not grow it without limit.
func TestStatementCacheStaysWithinItsByteBound(t *testing.T) {
	s := openTestSQLite(t)
	s.stmts = newStmtCache(maxCachedStatements, 64<<10)
	ctx := context.Background()
	for i := range 350 {
		if _, err := s.List(ctx, "org", store.KindUser, store.Query{Filter: shapeFilter(t, i), Count: 10, StartIndex: 1}); err != nil {
			t.Fatal(err)
		}
		if b := s.stmts.lru.Bytes(); b > 64<<10 {
			t.Fatalf("after %d shapes the cache holds %d bytes; the bound is %d", i+1, b, 64<<10)
		}
	}
	if n := s.stmts.lru.Len(); n == 0 || n >= 350 {
		t.Fatalf("%d statements cached: want some, evicted down to the bound", n)
	}
}

// A statement evicted while another goroutine is starting a query on it is closed only when
// that query is done: the query must never fail with "statement is closed".
func TestEvictedStatementsAreNotClosedUnderAQuery(t *testing.T) {
	s := openTestSQLite(t)
	s.stmts = newStmtCache(maxCachedStatements, 3*statementCost(strings.Repeat("x", 700))) // a few statements at most
	ctx := context.Background()
	shapes := make([]filter.Expression, 20)
	for i := range shapes {
		shapes[i] = shapeFilter(t, i)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				if _, err := s.List(ctx, "org", store.KindUser, store.Query{Filter: shapes[(g*7+i)%len(shapes)], Count: 10, StartIndex: 1}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// chain is the filter `title eq "v0" or title eq "v1" or …` with n terms.
func chain(n int) filter.Expression {
	var e filter.Expression
	for i := range n {
		term := &filter.AttributeExpression{AttributePath: filter.AttributePath{AttributeName: "title"}, Operator: filter.EQ, CompareValue: fmt.Sprint("v", i)}
		if e == nil {
			e = term
			continue
		}
		e = &filter.LogicalExpression{Left: e, Right: term, Operator: filter.OR}
	}
	return e
}

// Translating a filter costs memory linear in its length: each term's SQL is written once, not
// copied again at every level of and/or above it (measured in bytes allocated, not time).
func TestFilterTranslationIsLinear(t *testing.T) {
	allocated := func(n int) uint64 {
		e := chain(n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := newTranslator(sqliteDialect{}, store.KindUser).where(e); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	small, large := allocated(500), allocated(4000)
	if ratio := float64(large) / float64(small); ratio > 16 { // linear: about 8; quadratic: about 64
		t.Fatalf("8× the terms allocated %.1f× the bytes (%d → %d)", ratio, small, large)
	}
}

// Closing the store waits for the statements being prepared in the background: each holds a
// pooled connection, which would otherwise outlive Close (and, on SQLite, write the database's
// files after the caller removed them).
func TestCloseWaitsForBackgroundPreparations(t *testing.T) {
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := range n {
		s.inTxStatement(fmt.Sprintf("SELECT %d FROM scim_users WHERE org = ?", i)) // not cached: prepared in the background
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	if len(s.stmts.preparing) != 0 {
		t.Fatalf("Close returned with %d statements still being prepared", len(s.stmts.preparing))
	}
	if open := s.db.Stats().OpenConnections; open != 0 {
		t.Fatalf("Close returned with %d connections open", open)
	}
}

// Statements shaped by a client's filter are rebound apart: listing with many shapes leaves the
// rebind cache to the code's own statements (before, one organization's 1,024 shapes filled it
// for good, and every other statement was rewritten on every call from then on).
func TestFilterShapesDoNotFillTheRebindCache(t *testing.T) {
	s := openTestPostgres(t)
	before := reboundEntries.Load()
	for i := 1; i <= 300; i++ {
		if _, err := s.List(context.Background(), "rebind-shapes", store.KindUser, store.Query{Filter: shapeFilter(t, i), Count: 10, StartIndex: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if grown := reboundEntries.Load() - before; grown > 5 {
		t.Fatalf("300 filter shapes added %d statements to the rebind cache", grown)
	}
}

// On PostgreSQL a compound filter's statements are not prepared: their shapes are as many as
// clients send, and each prepared one holds a generic plan in the server process of every
// pooled connection that ran it. Filters of one comparison stay prepared.
func TestCompoundFilterShapesAreNotPreparedOnPostgres(t *testing.T) {
	s := openTestPostgres(t)
	s.db.SetMaxOpenConns(1) // every statement on the connection whose prepared statements are counted
	ctx := context.Background()
	prepared := func() (n int) {
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pg_prepared_statements`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := prepared()
	for i := 1; i <= 100; i++ {
		if _, err := s.List(ctx, "prepared-shapes", store.KindUser, store.Query{Filter: shapeFilter(t, i*7+1), Count: 10, StartIndex: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if grown := prepared() - before; grown > 5 {
		t.Fatalf("100 compound filter shapes left %d prepared statements on the connection", grown)
	}
	for _, text := range []string{`externalId eq "x"`, `title sw "a"`, `displayName co "b"`} {
		expr, err := filter.ParseFilter([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.List(ctx, "prepared-shapes", store.KindUser, store.Query{Filter: expr, Count: 10, StartIndex: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if grown := prepared() - before; grown < 3 {
		t.Fatalf("filters of one comparison left %d prepared statements, want theirs kept", grown)
	}
}
