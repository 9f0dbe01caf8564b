package e2e

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/test/pgtest"
)

// postgresTests lists the tests that run on PostgreSQL (onPostgres), each in a database of its
// own so organizations of one test never meet another's.
var postgresTests sync.Map

// onPostgres makes start open a fresh PostgreSQL database for this test, or skips the test when
// no server is configured (make test starts one and sets EIO_TEST_POSTGRES_DSN).
func onPostgres(t *testing.T) {
	t.Helper()
	if os.Getenv("EIO_TEST_POSTGRES_DSN") == "" {
		t.Skip("EIO_TEST_POSTGRES_DSN is not set; make test starts a throwaway PostgreSQL server and sets it")
	}
	postgresTests.Store(t.Name(), true)
}

// openTestStore opens the store a test runs on, closed by start's cleanup.
func openTestStore(t *testing.T, ctx context.Context) store.Store {
	t.Helper()
	if _, ok := postgresTests.Load(t.Name()); ok {
		st, err := sqlstore.OpenPostgres(ctx, freshPostgresDatabase(t, ctx))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// freshPostgresDatabase creates an empty database on the test server and returns its URL.
func freshPostgresDatabase(t *testing.T, ctx context.Context) string {
	t.Helper()
	dsn, err := pgtest.CreateDatabase(ctx, os.Getenv("EIO_TEST_POSTGRES_DSN"), "e2e")
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}
