package service

import (
	"context"
	"errors"
	"testing"
	"time"
)

// One namespace holds at most maxHeavyReadsPerNamespace turns; its further requests wait without
// holding any of the turns every namespace shares, so another namespace still gets one.
func TestHeavyReadsWaitTheirNamespacesTurn(t *testing.T) {
	var g readGuard
	ctx := context.Background()
	for range maxHeavyReadsPerNamespace {
		if err := g.start(ctx, "greedy"); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := g.start(short, "greedy"); !errors.Is(err, errNoTurn) {
		t.Fatalf("a third read of one namespace: %v, want it to wait", err)
	}
	for range maxHeavyReads - maxHeavyReadsPerNamespace {
		waited := make(chan error, 1)
		go func() { waited <- g.start(ctx, "quiet") }()
		select {
		case err := <-waited:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("another namespace's read waited behind the greedy one's")
		}
		g.done("quiet")
	}
	g.done("greedy")
	if err := g.start(ctx, "greedy"); err != nil {
		t.Fatal(err)
	}
	g.done("greedy")
	g.done("greedy")
	if len(g.byNamespace) != 0 || len(g.all) != 0 {
		t.Fatalf("turns left after every read ended: %d namespaces, %d held", len(g.byNamespace), len(g.all))
	}
}
