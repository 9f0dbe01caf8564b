package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// A member's record carries its newest MaxMemberHistory history entries, oldest first, and says
// when there were more: an identity provider toggling a user for hours writes thousands, and
// reading a member must not read them all.
func TestAMembersHistoryIsItsNewestEntries(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		org := fmt.Sprintf("history-%p", s)
		p := provisioning.DefaultPolicy
		now := time.Now()
		u := &store.Resource{Org: org, Kind: store.KindUser, ID: "u1", Name: "toggled@example.com", Active: true, Doc: []byte(`{}`),
			Created: now, Modified: now, Version: 1}
		if err := s.Create(ctx, u, nil, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
		const written = store.MaxMemberHistory + 50 // after the create's own entry
		for i := range written {
			if _, err := s.DB().ExecContext(ctx, s.Rebind(`INSERT INTO member_history (org, user_id, at_us, from_state, to_state, kind, reason)
				VALUES (?, ?, ?, 'Active', 'Suspended', 'member.suspended', ?)`), org, "u1", now.UnixMicro()+int64(i), fmt.Sprint("change ", i)); err != nil {
				t.Fatal(err)
			}
		}
		rec, err := s.Member(ctx, org, "u1")
		if err != nil {
			t.Fatal(err)
		}
		h := rec.History
		if len(h) != store.MaxMemberHistory || !rec.HistoryTruncated {
			t.Fatalf("%d entries (truncated %v) of %d written, want the newest %d", len(h), rec.HistoryTruncated, written, store.MaxMemberHistory)
		}
		if h[0].Reason != fmt.Sprint("change ", written-store.MaxMemberHistory) || h[len(h)-1].Reason != fmt.Sprint("change ", written-1) {
			t.Fatalf("history runs from %q to %q: want the newest, oldest first", h[0].Reason, h[len(h)-1].Reason)
		}
	})
}
