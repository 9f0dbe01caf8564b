package service

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// A filtered read of the audit log walks at most AuditScanWindow events below its cursor: an
// action that matches only old events answers pages that may be empty, each with a cursor to go
// on from, until it finds them; the status's summary looks only at the window's newest events.
func TestAFilteredAuditReadWalksABoundedWindow(t *testing.T) {
	defer func(w int) { store.AuditScanWindow = w }(store.AuditScanWindow)
	store.AuditScanWindow = 50
	ctx := context.Background()
	st := openStore(t)
	const org = "acme"
	var events []store.AuditEvent
	// Another organization's events in between count against nothing of acme's: the window is
	// acme's own events.
	other := func(n int) {
		for i := range n {
			events = append(events, store.AuditEvent{Org: "globex", Time: time.Now().UTC(), RequestID: fmt.Sprint("g", i), Action: "user.update",
				Method: "PATCH", Path: "/scim/v2/globex/Users/u1", Status: 200})
		}
	}
	for i := range 200 {
		if i%20 == 0 {
			other(30)
		}
		action, status := "user.update", 200
		switch {
		case i < 3:
			action = "user.delete" // the oldest three: 150 and more events below the newest
		case i == 10:
			status = 409 // a failure, 190 events ago
		}
		events = append(events, store.AuditEvent{Org: org, Time: time.Now().UTC(), RequestID: fmt.Sprint("r", i), Action: action,
			TokenFingerprint: "fp", Method: "PATCH", Path: "/scim/v2/acme/Users/u1", ResourceType: "User", ResourceID: "u1", Status: status})
	}
	if err := st.RecordAudit(ctx, events); err != nil {
		t.Fatal(err)
	}
	s := &Service{Store: st}
	o := &tenant.Organization{Name: org, Integration: types.NamespacedName{Namespace: "acme", Name: "acme"}}

	var found []store.AuditEvent
	cursor, pages := int64(0), 0
	for ; pages < 10; pages++ {
		page, next, err := s.AuditEvents(ctx, o, store.AuditQuery{Action: "user.delete", Before: cursor, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, page...)
		if next == "" {
			break
		}
		n, _ := strconv.ParseInt(next, 10, 64)
		if cursor != 0 && n >= cursor {
			t.Fatalf("the cursor went from %d to %d", cursor, n)
		}
		cursor = n
	}
	if len(found) != 3 || pages < 3 {
		t.Fatalf("found %d deletions in %d pages of a window of 50 over 200 events, want all 3 after at least 3 pages", len(found), pages+1)
	}

	// Unfiltered and failures-only reads are not windowed: the index finds them.
	page, _, err := s.AuditEvents(ctx, o, store.AuditQuery{Failed: true, Limit: 10})
	if err != nil || len(page) != 1 || page[0].Status != 409 {
		t.Fatalf("failures: %+v (%v), want the one 190 events ago", page, err)
	}
	// The summary looks for the latest failure among the newest 50 failures: the one 190 events ago.
	sum, err := store.Summarize(ctx, st, org)
	if err != nil {
		t.Fatal(err)
	}
	if sum.LastRequest == nil || sum.LastError == nil || sum.LastError.Status != 409 || sum.LastSuccessAt == nil {
		t.Fatalf("summary: last request %v, last error %v, last success %v", sum.LastRequest, sum.LastError, sum.LastSuccessAt)
	}
	// A busy neighbour's 100 newer events leave acme's summary as it was.
	events = nil
	other(100)
	if err := st.RecordAudit(ctx, events); err != nil {
		t.Fatal(err)
	}
	if again, err := store.Summarize(ctx, st, org); err != nil || again.LastRequest == nil || again.LastRequest.Seq != sum.LastRequest.Seq || again.LastError == nil {
		t.Fatalf("after another organization's events: %+v (%v), want as before", again, err)
	}
	// A page of successes looks through acme's newest 50 events: 10 of them, and a cursor.
	page, next, err := s.AuditEvents(ctx, o, store.AuditQuery{Action: "user.update", Limit: 10})
	if err != nil || len(page) != 10 || next == "" {
		t.Fatalf("updates: %d (%v), next %q", len(page), err, next)
	}
	// A since newer than the window's oldest event ends the paging there.
	_, next, err = s.AuditEvents(ctx, o, store.AuditQuery{Action: "user.delete", Since: time.Now().Add(time.Hour), Limit: 10})
	if err != nil || next != "" {
		t.Fatalf("a since after every event: next %q (%v), want none", next, err)
	}
}
