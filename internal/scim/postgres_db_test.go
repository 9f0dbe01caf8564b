package scim_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/test/pgtest"
)

// The package's PostgreSQL tests use a database of their own on make test's server: the event
// numbering is per database, and the store's own tests, run at the same time by go test, follow
// its sequence and must not wait behind this package's writes (nor these behind theirs).
var packageDatabase = sync.OnceValues(func() (string, error) {
	return pgtest.CreateDatabase(context.Background(), os.Getenv("EIO_TEST_POSTGRES_DSN"), "scim")
})

// postgresDSN is the package's database on the test server; empty when make test started none.
func postgresDSN(t *testing.T) string {
	t.Helper()
	if os.Getenv("EIO_TEST_POSTGRES_DSN") == "" {
		return ""
	}
	dsn, err := packageDatabase()
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}
