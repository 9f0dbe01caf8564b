package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations
var migrations embed.FS

// OpenSQLite opens (creating when missing) a SQLite database file and applies migrations.
//
// WAL lets readers run beside the single writer; synchronous=FULL makes every acknowledged commit
// durable across a crash of the process or the machine; transactions take the write lock when they
// begin (immediate), so concurrent writers queue on busy_timeout instead of failing to upgrade.
// case_sensitive_like makes LIKE behave as in PostgreSQL: case rules are the filter's, not SQLite's.
func OpenSQLite(ctx context.Context, file string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)", "case_sensitive_like(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+file+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening SQLite database %s: %w", file, err)
	}
	// Keep every connection open: reopening one costs a page cache and its prepared statements.
	db.SetMaxOpenConns(2*runtime.NumCPU() + 4)
	db.SetMaxIdleConns(2*runtime.NumCPU() + 4)
	s, err := open(ctx, db, sqliteDialect{})
	if err != nil {
		return nil, err
	}
	s.committer = newCommitter(db)
	return s, nil
}

// OpenPostgres connects to PostgreSQL (a pgx connection string or URL) and applies migrations.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL: %w", err)
	}
	// Every statement is prepared once per connection (pgx's statement cache) and its parameters
	// are values, never shapes: a generic plan serves them all. Left to choose, PostgreSQL kept
	// planning the user list (with its groups subquery) on every call, which cost more than
	// running it (pg_stat_statements, docs/performance.md).
	if _, set := cfg.RuntimeParams["plan_cache_mode"]; !set {
		cfg.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	// The store's transactions are Read Committed whatever the server's or role's default: a
	// write's fence (fence.go) and the numbering's gap rule (numbering.go) need a statement to see
	// what committed before it started.
	cfg.RuntimeParams["default_transaction_isolation"] = "read committed"
	// Transactions send BEGIN and COMMIT with their neighbours (pipelined_tx.go).
	maxConns, err := poolMaxConns(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(pipelinedConnector{stdlib.GetConnector(*cfg)})
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	s, err := open(ctx, db, postgresDialect{})
	if err != nil {
		return nil, err
	}
	s.numberer = newNumberer(s)
	s.lookups, s.reads, s.readsForUpdate = newLookupBatcher(s, byUserName), newLookupBatcher(s, byID), newLookupBatcher(s, byIDForUpdate)
	return s, nil
}

func open(ctx context.Context, db *sql.DB, d dialect) (*Store, error) {
	s := &Store{db: db, d: d, stmts: newStmtCache(maxCachedStatements, maxStatementBytes)}
	s.boundedStmts = newBoundedReads(s)
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// migrate applies the embedded migrations of the dialect that are newer than the database, each
// in its own transaction with its version recorded. On PostgreSQL each transaction first takes an
// advisory lock, so replicas starting together apply every migration exactly once.
func (s *Store) migrate(ctx context.Context) error { return s.migrateThrough(ctx, math.MaxInt) }

// migrateThrough applies the migrations up to and including version last.
func (s *Store) migrateThrough(ctx context.Context, last int) error {
	dir := path.Join("migrations", s.d.name())
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		version, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s has no numeric prefix", e.Name())
		}
		if version > last {
			break
		}
		body, err := migrations.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		if err := s.inTx(ctx, func(tx *sql.Tx) error {
			if s.d.name() == "postgres" {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7316235)`); err != nil {
					return fmt.Errorf("locking for migrations: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)`); err != nil {
				return fmt.Errorf("creating schema_migrations: %w", err)
			}
			var n int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("applying migration %s: %w", e.Name(), err)
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version) VALUES (?)`), version)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// minPoolConns is the fewest connections a replica works with: a write, the lookups' statement,
// the event numberer and the pruner may each hold one at once.
const minPoolConns = 4

// poolMaxConns is how many connections one replica opens at most: pool_max_conns from the
// connection string (pgx's name for it; taken out, as PostgreSQL does not know it), else four per
// CPU the Go runtime may use, which follows the container's CPU limit, not the node's CPUs (every
// replica on large nodes once asked PostgreSQL for more than its 100 connections).
func poolMaxConns(cfg *pgx.ConnConfig) (int, error) {
	v, set := cfg.RuntimeParams["pool_max_conns"]
	if !set {
		return max(minPoolConns, 4*runtime.GOMAXPROCS(0)), nil
	}
	delete(cfg.RuntimeParams, "pool_max_conns")
	n, err := strconv.Atoi(v)
	if err != nil || n < minPoolConns {
		return 0, fmt.Errorf("opening PostgreSQL: pool_max_conns must be a whole number of at least %d", minPoolConns)
	}
	return n, nil
}
