package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// createdUnder creates users (ids) in org under binding b.
func createdUnder(t *testing.T, s *sqlstore.Store, org string, b store.Binding, p *provisioning.Policy, ids ...string) {
	t.Helper()
	for _, id := range ids {
		w := fencedWrite(p, "create-"+id)
		w.Binding, w.Audit.Binding = b, b
		if err := s.Create(context.Background(), newUser(org, id, id), nil, w); err != nil {
			t.Fatal(err)
		}
	}
}

// recreated deletes org's data (bound to fenced), binds it to a new integration of the same
// claim, and creates users (ids) there: the new data's events are numbered on from the old's.
func recreated(t *testing.T, s *sqlstore.Store, org string, p *provisioning.Policy, ids ...string) {
	t.Helper()
	if err := s.DeleteOrganization(context.Background(), org, fenced); err != nil {
		t.Fatal(err)
	}
	next := store.Binding{Claim: fenced.Claim, Integration: "integration-2"}
	if err := s.BindOrganization(context.Background(), org, next, ""); err != nil {
		t.Fatal(err)
	}
	createdUnder(t, s, org, next, p, ids...)
}

// A subscription's start is read where it is recorded: an organization's data deleted and
// re-created in between (deletionPolicy: Delete, then a new integration) numbers its events from
// 1 again, and a start read before the deletion would skip them.
func TestADeliveryStartedAcrossADeletionSkipsNoEventOfTheNewData(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		p := &provisioning.Policy{AutoActivate: true}
		org := boundWithAUser(t, s, "delivery-start", p)
		createdUnder(t, s, org, fenced, p, "u2", "u3")
		before, err := s.Events(ctx, org, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(before) < 3 {
			t.Fatalf("the seed wrote %d events, want 3 or more", len(before))
		}
		subscribed := time.Now()
		time.Sleep(2 * time.Millisecond)

		// Run by Delivery on the test's goroutine, between catching up and recording the start.
		sqlstore.SetBeforeDeliveryStarts(func() { recreated(t, s, org, p, "u9") })
		t.Cleanup(func() { sqlstore.SetBeforeDeliveryStarts(nil) })

		d, err := s.Delivery(ctx, "subscription-1", org, subscribed)
		if err != nil {
			t.Fatal(err)
		}
		// Right before the new data's first event: not after it (skipping it), nor at 0 (the
		// numbers the deleted data had would read as events pruned before delivery).
		after, _ := s.Events(ctx, org, 0, 100)
		if len(after) == 0 || d.DeliveredSeq != after[0].Seq-1 {
			t.Fatalf("the delivery starts after event %d; the re-created organization's events are %+v", d.DeliveredSeq, after)
		}
	})
}

// On PostgreSQL a deletion in flight is waited for: the start is read once the organization's
// data is gone, not from the rows the deletion is about to delete.
func TestPostgresADeliveryStartWaitsForADeletionInFlight(t *testing.T) {
	s := postgresStore(t)
	ctx := context.Background()
	p := &provisioning.Policy{AutoActivate: true}
	org := boundWithAUser(t, s, "delivery-wait", p)
	time.Sleep(2 * time.Millisecond)
	subscribed := time.Now()

	locked, release := make(chan struct{}), make(chan struct{})
	sqlstore.SetAfterOrganizationLocked(func() { close(locked); <-release })
	deleted := make(chan error, 1)
	go func() { deleted <- s.DeleteOrganization(ctx, org, fenced) }()
	<-locked
	type started struct {
		d   *store.Delivery
		err error
	}
	delivery := make(chan started, 1)
	go func() {
		d, err := s.Delivery(ctx, "subscription-1", org, subscribed)
		delivery <- started{d, err}
	}()
	waitUntil(t, s, "the delivery's start waits for the deletion", nil, waitingForTheFence, org)
	close(release)
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	got := <-delivery
	if got.err != nil {
		t.Fatal(got.err)
	}
	// The deleted data's one event was number 1; the organization's next event is 2.
	if got.d.DeliveredSeq != 1 {
		t.Fatalf("the delivery starts after event %d, want after the deleted data's last number, 1", got.d.DeliveredSeq)
	}
}

// A deliverer's round over the events of data deleted since (the deliverer read them, then the
// organization's data was deleted and re-created) records nothing: its outcomes name events of
// the old data, whose numbers the new data's events reuse.
func TestOutcomesOfDeletedDataDoNotMoveTheNewDatasDelivery(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		p := &provisioning.Policy{AutoActivate: true}
		subscribed := time.Now()
		time.Sleep(2 * time.Millisecond)
		org := boundWithAUser(t, s, "delivery-round", p)
		createdUnder(t, s, org, fenced, p, "u2", "u3")
		if _, err := s.Delivery(ctx, "subscription-1", org, subscribed); err != nil {
			t.Fatal(err)
		}
		old, err := s.Events(ctx, org, 0, 100)
		if err != nil {
			t.Fatal(err)
		}

		recreated(t, s, org, p, "u7", "u8", "u9")
		if _, err := s.Delivery(ctx, "subscription-1", org, subscribed); err != nil { // the status's read starts it again
			t.Fatal(err)
		}
		for _, e := range old {
			if err := s.RecordDelivery(ctx, "subscription-1", org, e.Seq, store.DeliveryOutcome{Kind: store.Delivered, EventID: e.ID}); err != nil {
				t.Fatal(err)
			}
		}
		d, err := s.Delivery(ctx, "subscription-1", org, subscribed)
		if err != nil {
			t.Fatal(err)
		}
		// The old events' numbers are not given again: their outcomes may move the subscription
		// up to them, never past the new data's first event.
		fresh, err := s.Events(ctx, org, 0, 100)
		if err != nil || len(fresh) != 3 || fresh[0].Seq <= old[len(old)-1].Seq {
			t.Fatalf("the new data's events %+v (%v), want 3 numbered after the old data's %d", fresh, err, old[len(old)-1].Seq)
		}
		if d.DeliveredSeq >= fresh[0].Seq || d.LatestSeq != fresh[2].Seq {
			t.Fatalf("the new data's delivery after the old round's outcomes: %+v, want before %d of %d", d, fresh[0].Seq, fresh[2].Seq)
		}
	})
}

// An event pruned between the deliverer's read and its outcome still moves the subscription: its
// number was given in this organization's data, and nothing newer may wait behind it.
func TestAnOutcomeOfAPrunedEventIsRecorded(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		p := &provisioning.Policy{AutoActivate: true}
		subscribed := time.Now()
		time.Sleep(2 * time.Millisecond)
		org := boundWithAUser(t, s, "delivery-pruned", p)
		if _, err := s.Delivery(ctx, "subscription-1", org, subscribed); err != nil {
			t.Fatal(err)
		}
		read, err := s.Events(ctx, org, 0, 100)
		if err != nil || len(read) != 1 {
			t.Fatalf("events %+v (%v), want one", read, err)
		}
		if n, err := s.PruneEvents(ctx, org, time.Now().Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("pruned %d (%v), want 1", n, err)
		}
		if err := s.RecordDelivery(ctx, "subscription-1", org, read[0].Seq, store.DeliveryOutcome{Kind: store.Delivered, EventID: read[0].ID}); err != nil {
			t.Fatal(err)
		}
		d, err := s.Delivery(ctx, "subscription-1", org, subscribed)
		if err != nil {
			t.Fatal(err)
		}
		if d.DeliveredSeq != read[0].Seq {
			t.Fatalf("the subscription after its pruned event's outcome: %+v, want at %d", d, read[0].Seq)
		}
	})
}

// Dead letters leave with the events past the retention, and only the pruned organization's:
// kept, they would grow without end and a replay would rewind to events no longer there.
func TestPruningEventsTakesTheirDeadLetters(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		p := &provisioning.Policy{AutoActivate: true}
		subscribed := time.Now()
		time.Sleep(2 * time.Millisecond)
		var orgs []string
		var created time.Time
		for _, name := range []string{"dead-pruned", "dead-kept"} {
			org := boundWithAUser(t, s, name, p)
			if created.IsZero() {
				created = time.Now() // the pruned organization's event is older than the cut, its dead letter newer
			}
			time.Sleep(20 * time.Millisecond)
			if _, err := s.Delivery(ctx, "subscription-1", org, subscribed); err != nil {
				t.Fatal(err)
			}
			read, err := s.Events(ctx, org, 0, 100)
			if err != nil || len(read) != 1 {
				t.Fatalf("events %+v (%v), want one", read, err)
			}
			if err := s.RecordDelivery(ctx, "subscription-1", org, read[0].Seq, store.DeliveryOutcome{
				Kind: store.DeadLettered, EventID: read[0].ID, Type: "user.created", Error: "HTTP 500"}); err != nil {
				t.Fatal(err)
			}
			orgs = append(orgs, org)
		}
		if n, err := s.PruneEvents(ctx, orgs[0], created); err != nil || n != 1 {
			t.Fatalf("pruned %d (%v), want 1", n, err)
		}
		for i, want := range []int{0, 1} {
			dead, err := s.DeadLetters(ctx, "subscription-1", orgs[i], 100)
			if err != nil || len(dead) != want {
				t.Fatalf("dead letters of %s after pruning %s: %+v (%v), want %d", orgs[i], orgs[0], dead, err, want)
			}
		}
	})
}

// Where every delivery stands is read in one statement, beside its organization's newest event
// (on PostgreSQL, events committed before the call numbered first).
func TestDeliveryPositionsSeeNewEvents(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		p := &provisioning.Policy{AutoActivate: true}
		org := boundWithAUser(t, s, "positions", p)
		if _, err := s.Delivery(ctx, "subscription-positions", org, time.Time{}); err != nil { // starts after the newest
			t.Fatal(err)
		}
		position := func() store.DeliveryPosition {
			t.Helper()
			all, err := s.DeliveryPositions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, pos := range all {
				if pos.Subscription == "subscription-positions" && pos.Org == org {
					return pos
				}
			}
			t.Fatalf("no position of the delivery among %d", len(all))
			return store.DeliveryPosition{}
		}
		if pos := position(); pos.DeliveredSeq != 1 || pos.LatestSeq != 1 || !pos.NextAttempt.IsZero() {
			t.Fatalf("a started delivery: %+v, want at the newest event 1", pos)
		}
		createdUnder(t, s, org, fenced, p, "u2")
		if pos := position(); pos.DeliveredSeq != 1 || pos.LatestSeq != 2 {
			t.Fatalf("after a new event: %+v, want 1 of 2", pos)
		}
	})
}
