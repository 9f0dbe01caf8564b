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

// Events written before events had ids were served with an empty id, the receivers' idempotency
// key: a receiver dropping events it has seen would drop each after the first. Upgrading gives
// each one an id of its own, kept from then on, and its dead letter the same; events that had
// an id keep it.
func TestEventsWithoutIDsGetOneOnUpgrade(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		org, other := fmt.Sprintf("legacy-ids-%d", time.Now().UnixNano()), fmt.Sprintf("with-ids-%d", time.Now().UnixNano())
		p := &provisioning.Policy{AutoActivate: true}
		createUsers(t, s, org, 3, p)
		createUsers(t, s, other, 1, p)
		kept := eventsOf(t, s, other)

		// As a release before event ids left them.
		rows := "provisioning_events"
		if s.Dialect() == "postgres" {
			rows = "provisioning_event_rows"
		}
		legacy := eventsOf(t, s, org)
		for _, q := range []string{
			`UPDATE ` + rows + ` SET id = NULL WHERE org = '` + org + `'`,
			fmt.Sprintf(`INSERT INTO dead_letters (subscription, org, seq, event_id, type, attempts, at_us) VALUES ('sub-1', '%s', %d, '', 'member.provisioned', 3, 1)`,
				org, legacy[0].Seq),
		} {
			if _, err := s.DB().ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		for _, e := range eventsOf(t, s, org) {
			if e.ID != "" {
				t.Fatalf("the legacy event %d has id %q before the upgrade", e.Seq, e.ID)
			}
		}

		if err := sqlstore.ApplyMigrationAgain(ctx, s, "legacy_event_ids"); err != nil {
			t.Fatal(err)
		}
		upgraded := eventsOf(t, s, org)
		if len(upgraded) != len(legacy) {
			t.Fatalf("%d events after the upgrade, %d before", len(upgraded), len(legacy))
		}
		seen := map[string]bool{}
		for i, e := range upgraded {
			if !strings.HasPrefix(e.ID, "evt_") || len(e.ID) != 30 || seen[e.ID] || e.ID == legacy[i].ID {
				t.Fatalf("event %d: id %q after the upgrade (ids so far %v)", e.Seq, e.ID, seen)
			}
			seen[e.ID] = true
		}
		for i, e := range eventsOf(t, s, org) {
			if e.ID != upgraded[i].ID {
				t.Fatalf("event %d: id %q, then %q: ids must be kept once given", e.Seq, upgraded[i].ID, e.ID)
			}
		}
		letters, err := s.DeadLetters(ctx, "sub-1", org, 10)
		if err != nil || len(letters) != 1 || letters[0].EventID != upgraded[0].ID {
			t.Fatalf("dead letters %+v (%v), want one of event id %s", letters, err, upgraded[0].ID)
		}
		for i, e := range eventsOf(t, s, other) {
			if e.ID != kept[i].ID {
				t.Fatalf("another organization's event %d: id %q became %q", e.Seq, kept[i].ID, e.ID)
			}
		}
	})
}
