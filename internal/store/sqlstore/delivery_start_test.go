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

// eventsAt writes events of org at the times given, numbered in that order: on SQLite with their
// numbers, as a write does; on PostgreSQL as rows that the numberer numbers in position order.
func eventsAt(t *testing.T, s *sqlstore.Store, postgres bool, org string, ats ...time.Time) {
	t.Helper()
	ctx := context.Background()
	for i, at := range ats {
		id := fmt.Sprintf("evt_%s_%d", org, i)
		var err error
		if postgres {
			_, err = s.DB().ExecContext(ctx, `INSERT INTO provisioning_event_rows (org, id, type, subject, at_us, data)
				VALUES ($1, $2, 'member.provisioned', $3, $4, '{}')`, org, id, fmt.Sprint("u", i), at.UnixMicro())
		} else {
			_, err = s.DB().ExecContext(ctx, `INSERT INTO provisioning_events (org, seq, id, type, subject, at_us, data)
				VALUES (?, ?, ?, 'member.provisioned', ?, ?, '{}')`, org, i+1, id, fmt.Sprint("u", i), at.UnixMicro())
			if err == nil {
				_, err = s.DB().ExecContext(ctx, `INSERT INTO event_sequences (org, last) VALUES (?, ?)
					ON CONFLICT (org) DO UPDATE SET last = excluded.last`, org, i+1)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A new subscription starts just before the first event written at or after its creation,
// whatever order the events were numbered in. On PostgreSQL an event's time is taken in its write
// and its number after the write commits, so one written before the creation can be numbered after
// one written after it; starting after the last event written before the creation skipped the
// later one. Delivering the earlier one as well is harmless (receivers deduplicate).
func TestADeliveryStartsBeforeTheFirstEventWrittenAfterItsCreation(t *testing.T) {
	for _, postgres := range []bool{false, true} {
		t.Run(map[bool]string{false: "sqlite", true: "postgres"}[postgres], func(t *testing.T) {
			s := sqliteStore
			if postgres {
				s = postgresStore
			}
			st := s(t)
			ctx := context.Background()
			created := time.Now()
			for _, c := range []struct {
				name string
				ats  []time.Time
				want int64
			}{
				{"an event written after the creation numbered before one written just before it",
					[]time.Time{created.Add(-time.Hour), created.Add(time.Millisecond), created.Add(-time.Millisecond)}, 1},
				{"every event written before the creation", []time.Time{created.Add(-time.Hour), created.Add(-time.Millisecond)}, 2},
				{"every event written after the creation", []time.Time{created.Add(time.Millisecond), created.Add(time.Second)}, 0},
			} {
				org := fmt.Sprintf("start-%s-%d", strings.ReplaceAll(c.name, " ", "-")[:20], time.Now().UnixNano())
				eventsAt(t, st, postgres, org, c.ats...)
				d, err := st.Delivery(ctx, "subscription-1", org, created)
				if err != nil {
					t.Fatal(err)
				}
				if d.DeliveredSeq != c.want {
					t.Errorf("%s: the subscription starts after event %d, want after %d", c.name, d.DeliveredSeq, c.want)
				}
			}
		})
	}
}

// Where a new subscription starts is found from the events at or after its creation, by their
// time index (few, for a subscription just created), each number looked up by its event's
// position: not by walking or joining all of the organization's numbers (SQLite without
// statistics, as the store runs; PostgreSQL's generic plan).
func TestADeliveryStartIsReadByTime(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s := sqliteStore(t)
		rows, err := s.DB().QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+sqlstore.StartAfter(s), "acme", 1, "acme")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = rows.Close() }()
		var plan strings.Builder
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(detail + "\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan.String(), "provisioning_events_time (org=? AND at_us>?)") {
			t.Errorf("the plan does not find the events by time:\n%s", plan.String())
		}
	})
	t.Run("postgres", func(t *testing.T) {
		s := postgresStore(t)
		ctx := context.Background()
		org := fmt.Sprintf("start-plans-%d", time.Now().UnixNano())
		createUsers(t, s, org, 100, &provisioning.Policy{AutoActivate: true})
		// Other organizations' events: a table of realistic size for the planner.
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO provisioning_event_rows (org, id, type, subject, at_us, data)
			SELECT $1 || (g % 20), 'evt_' || $1 || g, 'member.provisioned', 'u' || g, g, '{}' FROM generate_series(1, 20000) AS g`,
			org+"-other-"); err != nil {
			t.Fatal(err)
		}
		eventsOf(t, s, org)
		conn, err := s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		for _, q := range []string{`SET plan_cache_mode = force_generic_plan`, `ANALYZE provisioning_event_rows, event_numbers`,
			`PREPARE start_plan(text, bigint, text) AS ` + sqlstore.StartAfter(s)} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		plan := explain(t, conn, fmt.Sprintf(`EXPLAIN EXECUTE start_plan('%s', 10, '%[1]s')`, org))
		// (event_sequences, one row per organization, may be scanned while it is small.)
		if !strings.Contains(plan, "provisioning_events_time") || !strings.Contains(plan, "event_numbers_position") ||
			strings.Contains(plan, "Seq Scan on provisioning_event_rows") || strings.Contains(plan, "Seq Scan on event_numbers") ||
			strings.Contains(plan, "Hash") {
			t.Errorf("the plan does not find the events by time and their numbers by position:\n%s", plan)
		}
	})
}
