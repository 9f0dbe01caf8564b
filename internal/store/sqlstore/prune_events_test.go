package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// An event's time is its request's, and a write that started later can be numbered earlier. Pruning
// by time alone kept such an event behind the hole of the older ones deleted after it, which
// readers and deliverers take for events lost; pruning takes every event numbered before the
// newest one it deletes.
func TestPruningLeavesNoHoleInTheStream(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		org := fmt.Sprintf("prune-%d", time.Now().UnixNano())
		p := provisioning.DefaultPolicy
		createUsers(t, s, org, 3, &p)
		now := time.Now()
		// Event 1's request came last: an hour after the others, for the test.
		later := now.Add(time.Hour).UnixMicro()
		move := s.Rebind(`UPDATE provisioning_events SET at_us = ? WHERE org = ? AND seq = 1`)
		if strings.HasSuffix(t.Name(), "/postgres") {
			move = `UPDATE provisioning_event_rows SET at_us = $1 WHERE position = (SELECT position FROM event_numbers WHERE org = $2 AND seq = 1)`
		}
		if got := eventsOf(t, s, org); len(got) != 3 { // numbered (on PostgreSQL, after commit)
			t.Fatalf("events: %+v", got)
		}
		if res, err := s.DB().ExecContext(ctx, move, later, org); err != nil {
			t.Fatal(err)
		} else if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("moved %d events", n)
		}
		if n, err := s.PruneEvents(ctx, org, now.Add(30*time.Minute)); err != nil || n != 3 {
			t.Fatalf("pruning removed %d events (%v), want 3: the two older ones and the one numbered before them", n, err)
		}
		if got, err := s.Events(ctx, org, 0, 100); err != nil || len(got) != 0 {
			t.Fatalf("left %+v (%v)", got, err)
		}
	})
}
