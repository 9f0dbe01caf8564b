package sqlstore

import (
	"context"
	"testing"
	"time"
)

// Deletions of one organization take turns; another organization's goes on beside them; a
// waiter gives up with its context; and a caller that does not wait is told at once.
func TestDeletionsOfOneOrganizationTakeTurns(t *testing.T) {
	var l deletionLocks
	ctx := context.Background()
	releaseA, ok, err := l.acquire(ctx, "a", true)
	if !ok || err != nil {
		t.Fatalf("the first deletion of a: %v, %v", ok, err)
	}
	if _, ok, err := l.acquire(ctx, "a", false); ok || err != nil {
		t.Fatalf("a second deletion of a that does not wait: %v, %v; want not ok at once", ok, err)
	}
	releaseB, ok, err := l.acquire(ctx, "b", false)
	if !ok || err != nil {
		t.Fatalf("a deletion of b beside a's: %v, %v", ok, err)
	}
	releaseB()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, ok, err := l.acquire(short, "a", true); ok || err == nil {
		t.Fatalf("a waiter whose context ends: %v, %v", ok, err)
	}
	got := make(chan bool)
	go func() {
		release, ok, _ := l.acquire(ctx, "a", true)
		if ok {
			release()
		}
		got <- ok
	}()
	releaseA()
	if !<-got {
		t.Fatal("the waiter did not get a's lock once it was released")
	}
}
