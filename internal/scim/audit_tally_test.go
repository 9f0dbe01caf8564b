package scim

import (
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Identical requests fold into one event that counts them and carries the latest one's time and
// request id; a request that differs in anything recorded, or comes from another organization,
// keeps an event of its own.
func TestAuditTallyFoldsOnlyIdenticalRequestsOfOneOrganization(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	read := func(org, requestID string, at time.Duration) store.AuditEvent {
		return store.AuditEvent{
			Org: org, Time: t0.Add(at), RequestID: requestID, Action: "user.list", Client: "Entra", TokenFingerprint: "fp",
			Method: "GET", Path: "/scim/v2/shared/Users", ResourceType: "User", Status: 200,
		}
	}
	var tally auditTally
	tally.add(read("acme", "r1", 0))
	tally.add(read("acme", "r3", 3*time.Millisecond))
	tally.add(read("acme", "r2", 2*time.Millisecond)) // arrives late: the latest stays r3
	tally.add(read("globex", "g1", time.Millisecond)) // the same request in another organization
	notFound := read("acme", "r4", 4*time.Millisecond)
	notFound.Status, notFound.ScimType = 404, ""
	tally.add(notFound)
	withAttrs := read("acme", "r5", 5*time.Millisecond)
	withAttrs.Attributes = []string{"a", "b"}
	tally.add(withAttrs)
	otherAttrs := withAttrs
	otherAttrs.Attributes, otherAttrs.RequestID = []string{"a\x00b"}, "r6"
	if n := tally.add(otherAttrs); n != 5 {
		t.Fatalf("want 5 distinct events, the tally holds %d", n)
	}
	events := tally.drain()
	if len(events) != 5 {
		t.Fatalf("want 5 events, got %d: %+v", len(events), events)
	}
	acme := events[0]
	if acme.Org != "acme" || acme.Count != 3 || acme.RequestID != "r3" || !acme.Time.Equal(t0.Add(3*time.Millisecond)) {
		t.Fatalf("the folded reads: %+v", acme)
	}
	for _, e := range events[1:] {
		if e.Count > 1 {
			t.Fatalf("folded with another request: %+v", e)
		}
	}
	if events[1].Org != "globex" || events[1].RequestID != "g1" {
		t.Fatalf("globex's read: %+v", events[1])
	}
	if n := tally.add(read("acme", "r7", 0)); n != 1 {
		t.Fatalf("a drained tally holds %d events", n)
	}
}
