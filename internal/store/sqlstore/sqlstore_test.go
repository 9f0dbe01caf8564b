package sqlstore_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/store/storetest"
)

func TestSQLiteConformance(t *testing.T) {
	s := sqliteStore(t)
	storetest.Run(t, s)
	storetest.RunProvisioning(t, s, storetest.Options{AddInvitedMember: invitedMember(s)})
	storetest.RunEvents(t, s)
}

func TestPostgresConformance(t *testing.T) {
	s := postgresStore(t)
	storetest.Run(t, s)
	storetest.RunProvisioning(t, s, storetest.Options{AddInvitedMember: invitedMember(s)})
	storetest.RunEvents(t, s)
}

// sqliteStore opens the store on a SQLite file of the test's own, closed when the test ends.
func sqliteStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// onEachStore runs test on SQLite and on the test PostgreSQL, as subtests.
func onEachStore(t *testing.T, test func(t *testing.T, s *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) { test(t, sqliteStore(t)) })
	t.Run("postgres", func(t *testing.T) { test(t, postgresStore(t)) })
}

// postgresStore opens the store on the test PostgreSQL, closed when the test ends.
func postgresStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	dsn := os.Getenv("EIO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("EIO_TEST_POSTGRES_DSN is not set; make test starts a throwaway PostgreSQL server and sets it")
	}
	s, err := sqlstore.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// invitedMember stores a member SCIM did not create, as invitations (not built yet) would.
func invitedMember(s *sqlstore.Store) func(ctx context.Context, org, userID, userName string) error {
	return func(ctx context.Context, org, userID, userName string) error {
		_, err := s.DB().ExecContext(ctx, s.Rebind(`INSERT INTO members (org, user_id, user_name, user_name_lower, state, role, approved,
			scim_deleted, created_us, modified_us, source) VALUES (?, ?, ?, ?, 'Active', 'owner', TRUE, FALSE, 0, 0, 'invitation')`),
			org, userID, userName, strings.ToLower(userName))
		return err
	}
}

func TestMigrationsAreIdempotent(t *testing.T) {
	file := filepath.Join(t.TempDir(), "identity.db")
	for range 2 {
		s, err := sqlstore.OpenSQLite(context.Background(), file)
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
	}
}
