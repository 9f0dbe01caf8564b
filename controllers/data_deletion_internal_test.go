package controllers

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// slowDeletion deletes until its context ends, as a deletion of tens of millions of rows would.
type slowDeletion struct{ calls atomic.Int32 }

func (d *slowDeletion) DeleteOrganization(ctx context.Context, _ string, _ store.Binding) error {
	d.calls.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

type quickDeletion struct{}

func (quickDeletion) DeleteOrganization(context.Context, string, store.Binding) error { return nil }

// A finalizer's data deletion holds its reconcile worker for one pass of a bounded time, one pass
// at a time of either controller: a large organization's deletion held a worker until done, and
// four of them every ScimIntegration worker, every other tenant's reconciles waiting.
func TestADataDeletionHoldsOneWorkerForABoundedTime(t *testing.T) {
	before := deletionPassBudget
	deletionPassBudget = 200 * time.Millisecond
	t.Cleanup(func() { deletionPassBudget = before })

	slow := &slowDeletion{}
	done := make(chan error)
	start := time.Now()
	go func() { done <- deleteOrganizationData(t.Context(), slow, "big", store.Binding{}) }()
	for slow.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	// Another organization's deletion meanwhile waits for its turn without holding its worker.
	other := &slowDeletion{}
	if err := deleteOrganizationData(t.Context(), other, "other", store.Binding{}); !errors.Is(err, errDeletionUnderWay) || other.calls.Load() != 0 {
		t.Fatalf("a second deletion while one runs: %v, %d calls", err, other.calls.Load())
	}
	if err := <-done; !errors.Is(err, errDeletionUnderWay) {
		t.Fatalf("a deletion past its pass's budget: %v, want it told to come back", err)
	}
	if held := time.Since(start); held > 2*time.Second {
		t.Fatalf("the pass held its worker %v", held)
	}
	if err := deleteOrganizationData(t.Context(), quickDeletion{}, "small", store.Binding{}); err != nil {
		t.Fatalf("a deletion that finishes: %v", err)
	}
	// A reconcile whose own context ended is not a deletion under way: its error is returned.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := deleteOrganizationData(ctx, &slowDeletion{}, "cancelled", store.Binding{}); errors.Is(err, errDeletionUnderWay) || err == nil {
		t.Fatalf("a cancelled reconcile: %v", err)
	}
}
