package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// An event's time is its request's, and a write that started later can be numbered earlier.
// Pruning by time alone kept such an event behind the hole of the older ones deleted after it,
// which readers and deliverers take for events lost. Pruning deletes the stream's old prefix: an
// old event numbered after a younger one waits for it, and no young event goes.
func TestPruningLeavesNoHoleInTheStream(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		org := fmt.Sprintf("prune-%d", time.Now().UnixNano())
		p := provisioning.DefaultPolicy
		createUsers(t, s, org, 4, &p)
		if got := eventsOf(t, s, org); len(got) != 4 { // numbered (on PostgreSQL, after commit)
			t.Fatalf("events: %+v", got)
		}
		now := time.Now()
		// Event 2's request came two hours ago, event 1's one hour ago, 3 and 4 now.
		move := s.Rebind(`UPDATE provisioning_events SET at_us = ? WHERE org = ? AND seq = ?`)
		if strings.HasSuffix(t.Name(), "/postgres") {
			move = `UPDATE provisioning_event_rows SET at_us = $1 WHERE position = (SELECT position FROM event_numbers WHERE org = $2 AND seq = $3)`
		}
		for seq, at := range map[int]time.Time{1: now.Add(-time.Hour), 2: now.Add(-2 * time.Hour)} {
			if res, err := s.DB().ExecContext(ctx, move, at.UnixMicro(), org, seq); err != nil {
				t.Fatal(err)
			} else if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("moved %d events", n)
			}
		}
		kept := func(want ...int64) {
			t.Helper()
			var got []int64
			for _, e := range eventsOf(t, s, org) {
				got = append(got, e.Seq)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("kept events %v, want %v", got, want)
			}
		}
		// Older than 90 minutes: event 2 alone, numbered after event 1, which is younger.
		if n, err := s.PruneEvents(ctx, org, now.Add(-90*time.Minute)); err != nil || n != 0 {
			t.Fatalf("pruning removed %d events (%v), want none: event 2 waits for event 1", n, err)
		}
		kept(1, 2, 3, 4)
		// Older than 30 minutes: events 1 and 2; 3 and 4 stay.
		if n, err := s.PruneEvents(ctx, org, now.Add(-30*time.Minute)); err != nil || n != 2 {
			t.Fatalf("pruning removed %d events (%v), want 2", n, err)
		}
		kept(3, 4)
	})
}

// Pruning a long backlog (a retention shortened over millions of rows) deletes it in transactions
// of a bounded size, with other organizations' writes landing between them: on SQLite one
// transaction held the one writer every organization's writes wait for.
func TestPruningGivesOtherWritesTurns(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		org, other := fmt.Sprintf("backlog-%d", time.Now().UnixNano()), fmt.Sprintf("beside-%d", time.Now().UnixNano())
		p := provisioning.DefaultPolicy
		createUsers(t, s, org, 5, &p)
		eventsOf(t, s, org) // numbered (on PostgreSQL, after commit)
		var between int
		restore := sqlstore.SetPruneChunk(2, func() {
			between++
			u := newUser(other, fmt.Sprintf("u%d", between), fmt.Sprintf("user%d", between))
			if err := s.Create(ctx, u, nil, store.Write{Policy: &p}); err != nil {
				t.Error(err)
			}
		})
		defer restore()
		cut := time.Now().Add(time.Hour)
		events, err := s.PruneEvents(ctx, org, cut)
		if err != nil || events != 5 {
			t.Fatalf("pruned %d events (%v), want 5", events, err)
		}
		audit, err := s.PruneAudit(ctx, org, cut)
		if err != nil || audit < 5 {
			t.Fatalf("pruned %d audit events (%v), want one or more a create", audit, err)
		}
		// 5 events 2 at a time, and at least 5 audit events: at least 2 + 2 turns between.
		if between < 4 {
			t.Fatalf("other writes had %d turns while pruning", between)
		}
		if got, err := s.Events(ctx, other, 0, 100); err != nil || len(got) != between {
			t.Fatalf("the other organization's writes: %d events (%v), want %d", len(got), err, between)
		}
		left := 0
		if err := s.DB().QueryRowContext(ctx, s.Rebind(`SELECT COUNT(*) FROM audit_events WHERE org = ?`), org).Scan(&left); err != nil || left != 0 {
			t.Fatalf("%d audit events left (%v)", left, err)
		}
	})
}

// Events written while a pass prunes (its transactions give writes turns) are young, and stay,
// even when every event the pass found was old.
func TestPruningKeepsWhatIsWrittenWhileItRuns(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		org := fmt.Sprintf("prune-live-%d", time.Now().UnixNano())
		p := provisioning.DefaultPolicy
		createUsers(t, s, org, 5, &p)
		eventsOf(t, s, org) // numbered (on PostgreSQL, after commit)
		cut := time.Now()
		time.Sleep(2 * time.Millisecond)
		var written int
		restore := sqlstore.SetPruneChunk(2, func() {
			written++
			if err := s.Create(ctx, newUser(org, fmt.Sprintf("live%d", written), fmt.Sprintf("live%d", written)), nil, store.Write{Policy: &p}); err != nil {
				t.Error(err)
			}
			eventsOf(t, s, org) // numbered at once, as a reader would have them
		})
		defer restore()
		if n, err := s.PruneEvents(ctx, org, cut); err != nil || n != 5 {
			t.Fatalf("pruned %d events (%v), want the 5 old ones", n, err)
		}
		if got := eventsOf(t, s, org); written == 0 || len(got) != written {
			t.Fatalf("%d events left of the %d written while pruning", len(got), written)
		}
	})
}
