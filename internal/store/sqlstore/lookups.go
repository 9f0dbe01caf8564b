package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

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
// Organizations share statements, never rows: every lookup of a batch gets only the row of its
// own organization and key (the statement joins on both). They share the wait fairly: each
// organization's lookups queue apart, and a batch takes one of each waiting organization's in
// turn, so a lookup waits behind at most one lookup of each other waiting organization, however
// many they have queued. An organization's queue is bounded by count and
// by the bytes of its keys (ErrBusy past either), and a lookup whose request went away is
// dropped when its turn comes rather than read.
type lookupBatcher struct {
	s       *Store
	mu      sync.Mutex
	queues  map[string]*orgLookups // by organization; only organizations with lookups waiting
	turns   []string               // organizations with lookups waiting, the next batch's first first
	running int
	// maxStatements bounds the statements in flight: one per two of the manager's CPUs. Fewer
	// statements carry more keys each, and a statement's overhead, not its keys, is most of a
	// lookup's cost: on 2 CPUs one statement at a time served 19 % more lookups than three, with
	// lower latency (docs/performance.md). It also leaves pooled connections to writes.
	maxStatements int
	key           batchKey
	query         string // statement()
}

// orgLookups is one organization's waiting lookups, oldest first, and the bytes of their keys.
type orgLookups struct {
	waiting []*lookup
	bytes   int
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
	// maxWaitingLookups and maxWaitingKeyBytes bound one organization's queue. A burst at the
	// highest rate an installation allows (2,000 by default) fits; keys are userNames and ids,
	// and a userName eq filter may carry up to 32 KiB.
	maxWaitingLookups  = 4096
	maxWaitingKeyBytes = 4 << 20
	// maxKeyBytesPerStatement bounds one statement's keys by size (a first key alone may pass it).
	maxKeyBytesPerStatement = 256 << 10
	// lookupTimeout bounds a batch's statement: it runs apart from any one request's context.
	lookupTimeout = 30 * time.Second
)

type lookup struct {
	org, key string
	done     chan struct{}
	res      *store.Resource
	err      error
	// abandoned is set when the request stopped waiting: the batch leaves the lookup out.
	abandoned atomic.Bool
}

func newLookupBatcher(s *Store, key batchKey) *lookupBatcher {
	b := &lookupBatcher{s: s, maxStatements: max(1, runtime.GOMAXPROCS(0)/2), key: key}
	b.query = b.statement()
	return b
}

// batchedLookups and batchedReadsByID count the batchers' statements (tests check the path is taken).
var batchedLookups, batchedReadsByID atomic.Int64

// find returns the user of org whose key (the lower-cased userName, or the id) is key, with its
// groups; nil when there is none. ErrBusy when org already has as many lookups waiting as it may.
func (b *lookupBatcher) find(ctx context.Context, org, key string) (*store.Resource, error) {
	if namesNothing(key) { // never in a statement shared with other organizations' keys
		return nil, nil
	}
	l := &lookup{org: org, key: key, done: make(chan struct{})}
	start, err := b.enqueue(l)
	if err != nil {
		return nil, err
	}
	if start {
		go b.run()
	}
	select {
	case <-l.done:
		return l.res, l.err
	case <-ctx.Done():
		l.abandoned.Store(true)
		return nil, ctx.Err()
	}
}

// enqueue adds l to its organization's queue, and reports whether a statement should start.
func (b *lookupBatcher) enqueue(l *lookup) (start bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queues[l.org]
	if q == nil {
		if b.queues == nil {
			b.queues = map[string]*orgLookups{}
		}
		q = &orgLookups{}
		b.queues[l.org] = q
		b.turns = append(b.turns, l.org)
	}
	if len(q.waiting) >= maxWaitingLookups || q.bytes+len(l.key) > maxWaitingKeyBytes {
		if len(q.waiting) == 0 { // a key larger than the whole budget: nothing else waits
			b.dropQueue(l.org)
		}
		return false, store.ErrBusy
	}
	q.waiting = append(q.waiting, l)
	q.bytes += len(l.key)
	if b.running < b.maxStatements {
		b.running++
		return true, nil
	}
	return false, nil
}

// run answers batches while lookups are waiting.
func (b *lookupBatcher) run() {
	for {
		b.mu.Lock()
		batch := b.nextBatch()
		if len(batch) == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.answer(batch)
	}
}

// nextBatch takes up to maxLookupsPerStatement lookups, one of each waiting organization's in
// turn, leaving out those whose request went away. b.mu is held.
func (b *lookupBatcher) nextBatch() []*lookup {
	var batch []*lookup
	size := 0
	for len(batch) < maxLookupsPerStatement && len(b.turns) > 0 {
		org := b.turns[0]
		if head := b.queues[org].waiting[0]; len(batch) > 0 && !head.abandoned.Load() && size+len(head.key) > maxKeyBytesPerStatement {
			break // the statement's text stays small whatever keys one organization sends
		}
		b.turns = b.turns[1:]
		q := b.queues[org]
		l := q.waiting[0]
		q.waiting[0] = nil
		q.waiting, q.bytes = q.waiting[1:], q.bytes-len(l.key)
		if !l.abandoned.Load() {
			batch, size = append(batch, l), size+len(l.key)
		}
		if len(q.waiting) == 0 {
			delete(b.queues, org)
		} else {
			b.turns = append(b.turns, org)
		}
	}
	return batch
}

// dropQueue forgets org's empty queue. b.mu is held.
func (b *lookupBatcher) dropQueue(org string) {
	delete(b.queues, org)
	if i := slices.Index(b.turns, org); i >= 0 {
		b.turns = slices.Delete(b.turns, i, i+1)
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

// answer runs one statement for a batch and hands each lookup its row. A statement that
// PostgreSQL refuses for a value in it (a data exception) is run again for each lookup alone:
// whatever one organization's key does to a statement, the others' lookups are answered.
func (b *lookupBatcher) answer(batch []*lookup) {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	b.answerIn(ctx, batch)
}

func (b *lookupBatcher) answerIn(ctx context.Context, batch []*lookup) {
	found, err := b.read(ctx, batch)
	if err != nil && len(batch) > 1 && refusedValue(err) {
		for _, l := range batch {
			b.answerIn(ctx, []*lookup{l})
		}
		return
	}
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

// refusedValue reports a statement PostgreSQL refused for a value it was given (SQLSTATE class
// 22, data exception: text it cannot hold, a number out of range), not for the statement itself.
func refusedValue(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22")
}

// read runs the batch's statement: each lookup's user, by organization and key.
func (b *lookupBatcher) read(ctx context.Context, batch []*lookup) (map[[2]string]*store.Resource, error) {
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
	return found, err
}
