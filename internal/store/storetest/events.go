package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// RunEvents runs the event part of the suite: snapshots, pruning, and where subscriptions stand.
func RunEvents(t *testing.T, s store.Store) {
	t.Run("events carry an id and a snapshot of their subject", func(t *testing.T) { testEventSnapshots(t, s) })
	t.Run("deliveries move forward, retry, dead-letter and replay", func(t *testing.T) { testDeliveries(t, s) })
}

func testEventSnapshots(t *testing.T, s store.Store) {
	org := newOrg()
	p := provisioning.DefaultPolicy
	p.DefaultRole = "member"
	doc := `{"displayName":"Ada Lovelace","name":{"givenName":"Ada","familyName":"Lovelace"},"title":"Engineer",` +
		`"emails":[{"value":"ada@x.example","type":"work","primary":true}]}`
	must(t, s.Create(ctx, user(org, "u1", "ada@x.example", doc), nil, writeOf(&p, "c")))
	must(t, s.Create(ctx, group(org, "g1", "Engineering"), []string{"u1"}, writeOf(&p, "g")))
	must(t, s.Delete(ctx, org, store.KindGroup, "g1", 0, writeOf(&p, "gd")))
	events, err := s.Events(ctx, org, 0, 100)
	must(t, err)
	if len(events) != 5 {
		t.Fatalf("events: %+v", events)
	}
	ids := map[string]bool{}
	for _, e := range events {
		if !strings.HasPrefix(e.ID, "evt_") || ids[e.ID] {
			t.Fatalf("event id %q is not a fresh evt_ id", e.ID)
		}
		ids[e.ID] = true
	}
	created := events[0].Data.Member
	if created == nil || created.UserName != "ada@x.example" || created.State != provisioning.Active || created.Role != "member" ||
		created.Name == nil || created.Name.GivenName != "Ada" || len(created.Emails) != 1 || created.Emails[0].Value != "ada@x.example" ||
		created.Employee == nil || created.Employee.Title != "Engineer" || !created.Employee.Active {
		t.Fatalf("member.provisioned snapshot: %+v", created)
	}
	added := events[2]
	if added.Event.Type != provisioning.MembershipAdded || added.Data.Group == nil || added.Data.Group.DisplayName != "Engineering" ||
		added.Data.Member == nil || len(added.Data.Member.Groups) != 1 || added.Data.Member.Groups[0].ID != "g1" {
		t.Fatalf("membership.added snapshot: %+v", added.Data)
	}
	deleted := events[3]
	if deleted.Event.Type != provisioning.GroupDeleted || deleted.Data.Group == nil || deleted.Data.Group.DisplayName != "Engineering" {
		t.Fatalf("a deleted group keeps its name in its event: %+v", deleted.Data)
	}
	if n, err := s.PruneEvents(ctx, org, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("pruning events older than an hour removed %d (%v)", n, err)
	}
	if n, err := s.PruneEvents(ctx, org, time.Now().Add(time.Hour)); err != nil || n != 5 {
		t.Fatalf("pruning everything removed %d (%v)", n, err)
	}
}

func testDeliveries(t *testing.T, s store.Store) {
	org := newOrg()
	p := provisioning.DefaultPolicy
	must(t, s.Create(ctx, user(org, "u0", "before", `{}`), nil, writeOf(&p, "c")))
	d, err := s.Delivery(ctx, "sub-1", org, time.Time{})
	must(t, err)
	if d.DeliveredSeq != 1 || d.LatestSeq != 1 || !d.OldestPending.IsZero() {
		t.Fatalf("a new subscription starts at the newest event: %+v", d)
	}
	created := time.Now()
	time.Sleep(2 * time.Millisecond)
	for _, id := range []string{"u1", "u2", "u3"} {
		must(t, s.Create(ctx, user(org, id, "name-"+id, `{}`), nil, writeOf(&p, "c")))
	}
	if late, _ := s.Delivery(ctx, "sub-late", org, created); late.DeliveredSeq != 1 {
		t.Fatalf("a subscription first seen after events written since its creation still gets them: %+v", late)
	}
	d, _ = s.Delivery(ctx, "sub-1", org, time.Time{})
	if d.LatestSeq != 4 || d.OldestPending.IsZero() {
		t.Fatalf("three pending: %+v", d)
	}
	evs, err := s.Events(ctx, org, 0, 10)
	must(t, err)
	if len(evs) != 4 {
		t.Fatalf("four events: %+v", evs)
	}
	id := func(seq int64) string { return evs[seq-1].ID }
	// An outcome naming another event than the one numbered seq, or none, records nothing: a
	// round over the organization's data before a deletion must not move a subscription in the
	// new data.
	must(t, s.RecordDelivery(ctx, "sub-1", org, 2, store.DeliveryOutcome{Kind: store.Delivered, EventID: id(3)}))
	must(t, s.RecordDelivery(ctx, "sub-1", org, 2, store.DeliveryOutcome{Kind: store.Delivered}))
	must(t, s.RecordDelivery(ctx, "sub-1", org, 9, store.DeliveryOutcome{Kind: store.Delivered, EventID: "evt_never"}))
	if d, _ = s.Delivery(ctx, "sub-1", org, time.Time{}); d.DeliveredSeq != 1 {
		t.Fatalf("an outcome naming another event moved the subscription: %+v", d)
	}
	must(t, s.RecordDelivery(ctx, "sub-1", org, 2, store.DeliveryOutcome{Kind: store.Delivered, EventID: id(2)}))
	must(t, s.RecordDelivery(ctx, "sub-1", org, 2, store.DeliveryOutcome{Kind: store.Skipped, EventID: id(2)})) // stale: no effect
	retry := time.Now().Add(time.Minute).UTC().Truncate(time.Microsecond)
	must(t, s.RecordDelivery(ctx, "sub-1", org, 3, store.DeliveryOutcome{Kind: store.Failed, EventID: id(3), RetryAt: retry, Error: "503 Service Unavailable"}))
	must(t, s.RecordDelivery(ctx, "sub-1", org, 3, store.DeliveryOutcome{Kind: store.Failed, EventID: id(3), RetryAt: retry, Error: "503 Service Unavailable"}))
	d, _ = s.Delivery(ctx, "sub-1", org, time.Time{})
	if d.DeliveredSeq != 2 || d.Attempts != 2 || !d.NextAttempt.Equal(retry) || d.LastError != "503 Service Unavailable" || d.FirstFailure.IsZero() {
		t.Fatalf("after two failures: %+v", d)
	}
	must(t, s.RecordDelivery(ctx, "sub-1", org, 3, store.DeliveryOutcome{Kind: store.DeadLettered, EventID: id(3), Type: "member.provisioned",
		Error: "503 Service Unavailable"}))
	must(t, s.RecordDelivery(ctx, "sub-1", org, 4, store.DeliveryOutcome{Kind: store.Delivered, EventID: id(4)}))
	d, _ = s.Delivery(ctx, "sub-1", org, time.Time{})
	letters, err := s.DeadLetters(ctx, "sub-1", org, 10)
	must(t, err)
	if d.DeliveredSeq != 4 || d.Attempts != 0 || d.DeadLettered != 1 || len(letters) != 1 || letters[0].Seq != 3 || letters[0].Attempts != 2 {
		t.Fatalf("dead letter: %+v %+v", d, letters)
	}
	if other, _ := s.Delivery(ctx, "sub-2", org, time.Time{}); other.DeliveredSeq != 4 || other.DeadLettered != 0 {
		t.Fatalf("another subscription has its own state: %+v", other)
	}
	n, err := s.Replay(ctx, "sub-1", org)
	must(t, err)
	d, _ = s.Delivery(ctx, "sub-1", org, time.Time{})
	if n != 1 || d.DeliveredSeq != 2 || d.DeadLettered != 0 {
		t.Fatalf("replay rewinds to before the dead letter: %d, %+v", n, d)
	}
	// An outcome of a round that read the subscription before the replay (at 4) records nothing,
	// whatever its kind, and says so; one from where the subscription stands does.
	before, at := int64(4), int64(2)
	for _, kind := range []store.DeliveryKind{store.Delivered, store.Skipped, store.Failed, store.DeadLettered} {
		if err := s.RecordDelivery(ctx, "sub-1", org, 3, store.DeliveryOutcome{Kind: kind, EventID: id(3), Type: "member.provisioned",
			RetryAt: retry, Error: "HTTP 500", From: &before}); !errors.Is(err, store.ErrDeliveryMoved) {
			t.Fatalf("outcome %d from before the replay: %v, want ErrDeliveryMoved", kind, err)
		}
	}
	if d, _ = s.Delivery(ctx, "sub-1", org, time.Time{}); d.DeliveredSeq != 2 || d.Attempts != 0 || d.DeadLettered != 0 {
		t.Fatalf("outcomes from before the replay moved the subscription: %+v", d)
	}
	must(t, s.RecordDelivery(ctx, "sub-1", org, 3, store.DeliveryOutcome{Kind: store.Delivered, EventID: id(3), From: &at, Lost: 5}))
	if d, _ = s.Delivery(ctx, "sub-1", org, time.Time{}); d.DeliveredSeq != 3 || d.Lost != 5 || d.LostAt.IsZero() {
		t.Fatalf("an outcome from where the subscription stands, passing over 5 pruned events: %+v", d)
	}
	must(t, s.ForgetSubscription(ctx, "sub-1"))
	if d, _ = s.Delivery(ctx, "sub-1", org, time.Time{}); d.DeliveredSeq != 4 {
		t.Fatalf("a forgotten subscription starts afresh: %+v", d)
	}
}
