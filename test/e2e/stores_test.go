package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
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
	dsn := os.Getenv("EIO_TEST_POSTGRES_DSN")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "e2e_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
