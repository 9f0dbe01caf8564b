package sqlstore

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
)

// A replica opens at most pool_max_conns connections (pgx's parameter, taken out of what is sent
// to PostgreSQL), else four per CPU the runtime may use; a value that cannot work is refused.
func TestThePoolSizeFollowsTheConnectionString(t *testing.T) {
	dsn := os.Getenv("EIO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("EIO_TEST_POSTGRES_DSN is not set; make test starts a throwaway PostgreSQL server and sets it")
	}
	with := func(param string) string {
		if strings.Contains(dsn, "?") {
			return dsn + "&" + param
		}
		return dsn + "?" + param
	}
	ctx := context.Background()
	for dsn, want := range map[string]int{dsn: max(minPoolConns, 4*runtime.GOMAXPROCS(0)), with("pool_max_conns=6"): 6} {
		s, err := OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.db.Stats().MaxOpenConnections; got != want {
			t.Errorf("%d connections at most, want %d", got, want)
		}
		if err := s.Ping(ctx); err != nil { // PostgreSQL was not sent the pool's parameter
			t.Error(err)
		}
		_ = s.Close()
	}
	for _, bad := range []string{"pool_max_conns=2", "pool_max_conns=many"} {
		if s, err := OpenPostgres(ctx, with(bad)); err == nil {
			_ = s.Close()
			t.Errorf("%s was accepted", bad)
		}
	}
}
