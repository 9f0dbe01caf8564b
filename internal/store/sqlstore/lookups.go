package sqlstore

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// lookupBatcher answers concurrent reads of one user each with one statement for many on
// PostgreSQL: `userName eq` lookups, the query identity providers send before every create and
// most updates (by userName), and reads by id, which every PATCH, PUT and GET of a user starts
// with (by id). Each statement costs
// PostgreSQL and the manager about as much CPU again as running it (the protocol, a wake-up and a
// system call pair on each side: docs/performance.md), so lookups that arrive while others are in
// flight wait for the next statement and share it.
//
// A lookup waits for at most one statement before its own, and every lookup of a batch gets only
// the row of its own organization and userName (the statement joins on both): organizations share
// statements, never rows. Batches and running statements are bounded, so the batcher holds no more
// than the requests in flight.
type lookupBatcher struct {
	s       *Store
	mu      sync.Mutex
	pending []*lookup
	running int
	// maxStatements bounds the statements in flight: one per two of the manager's CPUs. Fewer
	// statements carry more keys each, and a statement's overhead, not its keys, is most of a
	// lookup's cost: on 2 CPUs one statement at a time served 19 % more lookups than three, with
	// lower latency (docs/performance.md). It also leaves pooled connections to writes.
	maxStatements int
	key           batchKey
	query         string // statement()
}

// batchKey is the column a batcher looks users up by, and the counter of its statements.
type batchKey struct {
	column     string // of scim_users r: the lower-cased userName, or the id
	statements *atomic.Int64
	// forUpdate also reads each user's member for the update that follows (one_statement_update.go).
	forUpdate bool
}

var (
	byUserName    = batchKey{column: "r.name_lower", statements: &batchedLookups}
	byID          = batchKey{column: "r.id", statements: &batchedReadsByID}
	byIDForUpdate = batchKey{column: "r.id", statements: &batchedReadsByID, forUpdate: true}
)

const (
	// maxLookupsPerStatement bounds one statement's keys.
	maxLookupsPerStatement = 64
	// lookupTimeout bounds a batch's statement: it runs apart from any one request's context.
	lookupTimeout = 30 * time.Second
)

type lookup struct {
	org, key string
	done     chan struct{}
	res      *store.Resource
	err      error
}

func newLookupBatcher(s *Store, key batchKey) *lookupBatcher {
	b := &lookupBatcher{s: s, maxStatements: max(1, runtime.GOMAXPROCS(0)/2), key: key}
	b.query = b.statement()
	return b
}

// batchedLookups and batchedReadsByID count the batchers' statements (tests check the path is taken).
var batchedLookups, batchedReadsByID atomic.Int64

// find returns the user of org whose key (the lower-cased userName, or the id) is key, with its
// groups; nil when there is none.
func (b *lookupBatcher) find(ctx context.Context, org, key string) (*store.Resource, error) {
	l := &lookup{org: org, key: key, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, l)
	start := b.running < b.maxStatements
	if start {
		b.running++
	}
	b.mu.Unlock()
	if start {
		go b.run()
	}
	select {
	case <-l.done:
		return l.res, l.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run answers batches while lookups are pending.
func (b *lookupBatcher) run() {
	for {
		b.mu.Lock()
		n := min(len(b.pending), maxLookupsPerStatement)
		if n == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		batch := b.pending[:n:n]
		b.pending = append([]*lookup(nil), b.pending[n:]...)
		b.mu.Unlock()
		b.answer(batch)
	}
}

// statement is the batch's query, on an array of organizations and one of keys.
func (b *lookupBatcher) statement() string {
	member, from := "", "scim_users r"
	if b.key.forUpdate {
		member, from = ", "+memberForUpdateColumns, from+" "+memberForUpdateJoin
	}
	// One index lookup per key, in a LATERAL subquery kept a subquery by its OFFSET 0: flattened
	// into a join, PostgreSQL's generic plan (which cannot know how many keys come) hashed the
	// keys against a scan of every user while the table held fewer than a few thousand (0.3 ms
	// among 1,000 users, where the index lookups take 0.03).
	return `SELECT x.*, k.org, k.key FROM unnest(?::text[], ?::text[]) AS k(org, key)
		CROSS JOIN LATERAL (SELECT ` + resourceColumns + `, ` + b.s.d.userGroups() + ` AS groups` + member + ` FROM ` + from + `
			WHERE r.org = k.org AND ` + b.key.column + ` = k.key OFFSET 0) AS x`
}

// answer runs one statement for a batch and hands each lookup its row.
func (b *lookupBatcher) answer(batch []*lookup) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	orgs, keys := make([]string, len(batch)), make([]string, len(batch))
	for i, l := range batch {
		orgs[i], keys[i] = l.org, l.key
	}
	b.key.statements.Add(1)
	found := make(map[[2]string]*store.Resource, len(batch))
	err := b.s.eachRow(ctx, b.query, []any{orgs, keys}, func(scan func(...any) error) error {
		var (
			groups, org, key string
			read             memberForUpdate
		)
		r, err := b.s.scan(func(dest ...any) error {
			dest = append(dest, &groups)
			if b.key.forUpdate {
				dest = append(dest, read.dest()...)
			}
			return scan(append(dest, &org, &key)...)
		}, "", store.KindUser)
		if err != nil {
			return err
		}
		r.Org = org
		if r.Groups, err = decodeGroups(groups); err != nil {
			return err
		}
		r.GroupsLoaded = true
		if b.key.forUpdate {
			r.ReadForUpdate = read.done(groups)
		}
		found[[2]string{org, key}] = r
		return nil
	})
	if err != nil {
		err = fmt.Errorf("reading users by %s: %w", b.key.column, err)
	}
	for _, l := range batch {
		l.err = err
		if r := found[[2]string{l.org, l.key}]; err == nil && r != nil {
			own := *r // a lookup of the same user twice in a batch: each request its own copy
			l.res = &own
		}
		close(l.done)
	}
}
