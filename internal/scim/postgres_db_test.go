package scim_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The package's PostgreSQL tests use a database of their own on make test's server: the event
// numbering is per database, and the store's own tests, run at the same time by go test, follow
// its sequence and must not wait behind this package's writes (nor these behind theirs).
var (
	packageDatabaseOnce sync.Once
	packageDatabaseURL  string
	packageDatabaseErr  error
)

// postgresDSN is the package's database on the test server; empty when make test started none.
func postgresDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("EIO_TEST_POSTGRES_DSN")
	if dsn == "" {
		return ""
	}
	packageDatabaseOnce.Do(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			packageDatabaseErr = err
			return
		}
		defer func() { _ = conn.Close(ctx) }()
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		name := "scim_" + hex.EncodeToString(b)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			packageDatabaseErr = err
			return
		}
		u, err := url.Parse(dsn)
		if err != nil {
			packageDatabaseErr = err
			return
		}
		u.Path = "/" + name
		packageDatabaseURL = u.String()
	})
	if packageDatabaseErr != nil {
		t.Fatal(packageDatabaseErr)
	}
	return packageDatabaseURL
}
