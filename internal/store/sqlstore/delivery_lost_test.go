package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// A subscription failing on an event passes over the organization's newest number once every
// event up to it was pruned (the deliverer's round over a quiet organization): the outcome names
// no event, the number is the organization's own, and the failure's retry state ends with it.
func TestPassingOverEventsPrunedUpToTheNewestIsRecorded(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		p := &provisioning.Policy{AutoActivate: true}
		subscribed := time.Now()
		time.Sleep(2 * time.Millisecond)
		org := boundWithAUser(t, s, "delivery-lost", p)
		createdUnder(t, s, org, fenced, p, "u2")
		read, err := s.Events(ctx, org, 0, 100)
		if err != nil || len(read) != 2 {
			t.Fatalf("events %+v (%v), want two", read, err)
		}
		first, newest := read[0].Seq, read[1].Seq
		if _, err := s.Delivery(ctx, "subscription-1", org, subscribed); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordDelivery(ctx, "subscription-1", org, first, store.DeliveryOutcome{Kind: store.Failed, EventID: read[0].ID,
			RetryAt: time.Now().Add(time.Minute), Error: "HTTP 503"}); err != nil {
			t.Fatal(err)
		}
		if n, err := s.PruneEvents(ctx, org, time.Now().Add(time.Hour)); err != nil || n != 2 {
			t.Fatalf("pruned %d (%v), want 2", n, err)
		}
		from := first - 1
		if err := s.RecordDelivery(ctx, "subscription-1", org, newest, store.DeliveryOutcome{Kind: store.Skipped, From: &from,
			Lost: newest - from}); err != nil {
			t.Fatal(err)
		}
		d, err := s.Delivery(ctx, "subscription-1", org, subscribed)
		if err != nil {
			t.Fatal(err)
		}
		if d.DeliveredSeq != newest || d.Lost != 2 || d.LostAt.IsZero() || d.Attempts != 0 || d.LastError != "" || !d.NextAttempt.IsZero() {
			t.Fatalf("after passing over the pruned events: %+v, want at %d with 2 lost and no failure", d, newest)
		}
	})
}
