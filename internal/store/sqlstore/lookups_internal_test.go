package sqlstore

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// held is a batcher whose statement is always in flight: enqueue never starts one, so the tests
// read the queues as a running statement would find them.
func held() *lookupBatcher { return &lookupBatcher{maxStatements: 1, running: 1} }

func mustEnqueue(t *testing.T, b *lookupBatcher, org, key string) *lookup {
	t.Helper()
	l := &lookup{org: org, key: key, done: make(chan struct{})}
	if _, err := b.enqueue(l); err != nil {
		t.Fatalf("enqueue %s/%s: %v", org, key, err)
	}
	return l
}

// A flood of one organization's lookups does not hold back another's: the next statement
// carries the other's lookup, however many the first has queued before it.
func TestALookupWaitsForOneStatementWhateverAnotherOrganizationQueued(t *testing.T) {
	b := held()
	for i := range 1000 {
		mustEnqueue(t, b, "flood", fmt.Sprint("u", i))
	}
	quiet := mustEnqueue(t, b, "quiet", "alice")
	batch := b.nextBatch()
	if len(batch) != maxLookupsPerStatement {
		t.Fatalf("a batch of %d, want %d", len(batch), maxLookupsPerStatement)
	}
	if batch[0].key != "u0" || batch[1] != quiet {
		t.Fatalf("the batch starts %s/%s, %s/%s: want the flood's oldest, then the quiet organization's", batch[0].org, batch[0].key, batch[1].org, batch[1].key)
	}
	for i, l := range batch[2:] {
		if l.org != "flood" || l.key != fmt.Sprint("u", i+1) {
			t.Fatalf("then %s/%s: want the flood's lookups in order", l.org, l.key)
		}
	}
	// The quiet organization comes back to the front of the next batch when it asks again.
	again := mustEnqueue(t, b, "quiet", "bob")
	if next := b.nextBatch(); next[0].org != "flood" || next[1] != again {
		t.Fatalf("the next batch starts %s, %s/%s", next[0].org, next[1].org, next[1].key)
	}
}

// A lookup whose request went away is left out of the statement.
func TestAnAbandonedLookupIsNotRead(t *testing.T) {
	b := held()
	gone := mustEnqueue(t, b, "acme", "gone")
	kept := mustEnqueue(t, b, "acme", "kept")
	gone.abandoned.Store(true)
	if batch := b.nextBatch(); len(batch) != 1 || batch[0] != kept {
		t.Fatalf("the batch is %d lookups, want the one still waited for", len(batch))
	}
	if len(b.queues) != 0 || len(b.turns) != 0 {
		t.Fatalf("queues left: %d, turns %v", len(b.queues), b.turns)
	}
}

// One organization's queue is bounded by count and by its keys' bytes; others still queue.
func TestAnOrganizationsWaitingLookupsAreBounded(t *testing.T) {
	b := held()
	for i := range maxWaitingLookups {
		mustEnqueue(t, b, "flood", fmt.Sprint("u", i))
	}
	if _, err := b.enqueue(&lookup{org: "flood", key: "one-more"}); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("lookup %d of one organization: %v, want ErrBusy", maxWaitingLookups+1, err)
	}
	mustEnqueue(t, b, "quiet", "alice")

	big := strings.Repeat("k", 32<<10) // a userName eq filter's largest key
	for range maxWaitingKeyBytes / len(big) {
		mustEnqueue(t, b, "big-keys", big)
	}
	if _, err := b.enqueue(&lookup{org: "big-keys", key: big}); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("past %d bytes of keys: %v, want ErrBusy", maxWaitingKeyBytes, err)
	}
	if _, err := b.enqueue(&lookup{org: "huge", key: strings.Repeat("k", maxWaitingKeyBytes+1)}); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("a key past the whole budget: %v, want ErrBusy", err)
	}
	if _, ok := b.queues["huge"]; ok || len(b.turns) != 3 {
		t.Fatalf("a refused organization left a queue: turns %v", b.turns)
	}
	// Draining frees the room.
	for len(b.turns) > 0 {
		b.nextBatch()
	}
	mustEnqueue(t, b, "flood", "after")
}

// A statement carries at most maxKeyBytesPerStatement of keys, whatever one organization sends;
// the other organization's lookup still comes in the first statement.
func TestAStatementsKeysAreBoundedBySize(t *testing.T) {
	b := held()
	big := strings.Repeat("k", 32<<10)
	for range 100 {
		mustEnqueue(t, b, "big-keys", big)
	}
	quiet := mustEnqueue(t, b, "quiet", "alice")
	batch := b.nextBatch()
	size := 0
	for _, l := range batch {
		size += len(l.key)
	}
	if size > maxKeyBytesPerStatement || len(batch) < 2 || batch[1] != quiet {
		t.Fatalf("a statement of %d lookups and %d bytes of keys (bound %d); the quiet organization's second: %v",
			len(batch), size, maxKeyBytesPerStatement, len(batch) > 1 && batch[1] == quiet)
	}
	huge := held()
	mustEnqueue(t, huge, "huge", strings.Repeat("k", maxKeyBytesPerStatement+1))
	if n := len(huge.nextBatch()); n != 1 {
		t.Fatalf("a key larger than the bound alone: a batch of %d, want it taken", n)
	}
}
