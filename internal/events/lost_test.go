package events

import (
	"context"
	"testing"
	"time"
)

// Events pruned at the end of a backlog, with nothing after them (a quiet organization), are
// passed over and counted like a gap before a kept event: the subscription reaches the newest
// number, lost says how many, and the failing event's retry state ends with it. Before, nothing
// was recorded: lost stayed 0, pending showed them for good, and the pair stayed failing and ran
// every interval.
func TestEventsPrunedAtTheEndOfABacklogAreCounted(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	_, d, j, now := failingPair(t, st)
	if _, err := d.deliver(ctx, j); err != nil { // starts the subscription: no events yet
		t.Fatal(err)
	}
	createUser(t, st, "acme", "u1", []byte(`{}`))
	createUser(t, st, "acme", "u2", []byte(`{}`))
	if _, err := d.deliver(ctx, j); err != nil { // event 1 fails
		t.Fatal(err)
	}
	if state, _ := st.Delivery(ctx, string(j.sub.UID), "acme", time.Time{}); state.Attempts != 1 || state.DeliveredSeq != 0 {
		t.Fatalf("after event 1 failed: %+v", state)
	}
	if n, err := st.PruneEvents(ctx, "acme", time.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want events 1 and 2", n, err)
	}
	*now = now.Add(2 * time.Hour) // past the backoff, well within retryFor
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	state, _ := st.Delivery(ctx, string(j.sub.UID), "acme", time.Time{})
	if state.DeliveredSeq != 2 || state.Lost != 2 || state.Attempts != 0 || state.LastError != "" || state.LostAt.IsZero() {
		t.Fatalf("after events 1 and 2 were pruned: %+v, want at 2 with 2 lost and no failure", state)
	}
	positions, err := st.DeliveryPositions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d.idle.set(positions)
	if !d.idle.skip(j.pairKey(), *now) {
		t.Fatal("the pair still runs every interval")
	}
}
