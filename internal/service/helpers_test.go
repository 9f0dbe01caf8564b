package service

import (
	"path/filepath"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// openStore opens a SQLite store for one test, closed when it ends.
func openStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}
