package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// A page of events is bounded by its snapshots' size, whatever its count: large members' events
// come a few to a page, in order, and every one of them comes.
func TestAPageOfEventsIsBoundedBySize(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		org := fmt.Sprintf("event-pages-%d", time.Now().UnixNano())
		p := provisioning.DefaultPolicy
		now := time.Now()
		big := strings.Repeat("x", 200<<10)
		const users = 12
		for i := range users {
			doc, _ := json.Marshal(map[string]any{"displayName": big, "title": big})
			u := &store.Resource{Org: org, Kind: store.KindUser, ID: fmt.Sprint("u", i), Name: fmt.Sprintf("user%d@example.com", i), Active: true,
				DisplayName: big, Doc: doc, Created: now, Modified: now, Version: 1}
			if err := s.Create(ctx, u, nil, store.Write{Policy: &p}); err != nil {
				t.Fatal(err)
			}
		}
		var after int64
		seen, pages := 0, 0
		for pages < 2*users {
			page, err := s.Events(ctx, org, after, 500)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			size := 0
			for _, r := range page {
				b, _ := json.Marshal(r.Data)
				size += len(b)
				if r.Seq != after+1 {
					t.Fatalf("event %d follows %d", r.Seq, after)
				}
				after = r.Seq
			}
			if len(page) > 1 && size > 2<<20 {
				t.Fatalf("a page of %d events holds %d bytes of snapshots", len(page), size)
			}
			seen += len(page)
			pages++
		}
		if seen < users || pages < 2 {
			t.Fatalf("%d events in %d pages, want every one of at least %d, in several pages", seen, pages, users)
		}
		// On PostgreSQL the server sends a page's events and the one that starts the next, not
		// the limit's (which the driver would read to the end after the page is full).
		first, err := s.Events(ctx, org, 0, 500)
		if err != nil {
			t.Fatal(err)
		}
		sent, err := sqlstore.EventPageRowsSent(ctx, s, org, 0, 500)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(t.Name(), "postgres") && sent > len(first)+1 {
			t.Fatalf("the server sent %d rows for a page of %d events", sent, len(first))
		}
	})
}
