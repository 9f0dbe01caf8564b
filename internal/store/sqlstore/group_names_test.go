package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// Creates of one group name racing each other: one wins, the others conflict. Without a unique
// index (older rows may repeat a name) it is the name's lock on PostgreSQL that makes them take
// turns.
func TestGroupNamesStayUniqueUnderRacingCreates(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		org := fmt.Sprintf("group-names-%d", time.Now().UnixNano())
		now := time.Now().UTC().Truncate(time.Microsecond)
		const racers = 8
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				g := &store.Resource{Org: org, Kind: store.KindGroup, ID: fmt.Sprintf("g%d", i), Name: "Racing Team",
					Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
				if i%2 == 1 {
					g.Name = "RACING TEAM"
				}
				errs[i] = s.Create(context.Background(), g, nil, store.Write{})
			})
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, store.ErrUniqueness):
				t.Fatalf("racer %d: %v", i, err)
			}
		}
		if won != 1 {
			t.Fatalf("%d creates of one group name succeeded, want 1", won)
		}
	})
}

// A PATCH that renames a group and adds one member (PostgreSQL makes it one statement): the
// membership event's member lists the group under its new name, as a read back would.
func TestAMembershipEventNamesTheGroupAsTheWriteLeftIt(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		org, _ := userAndGroup(t, s, "renamed-with-member")
		current, err := s.Get(context.Background(), org, store.KindGroup, "g1")
		if err != nil {
			t.Fatal(err)
		}
		users, err := s.List(context.Background(), org, store.KindUser, store.Query{Count: 1, StartIndex: 1})
		if err != nil || len(users.Resources) != 1 {
			t.Fatalf("the user: %+v, %v", users, err)
		}
		if err := addOne(s, current, users.Resources[0].ID, "Renamed team"); err != nil {
			t.Fatal(err)
		}
		events, err := s.Events(context.Background(), org, 0, 100)
		if err != nil || len(events) == 0 {
			t.Fatalf("events: %d, %v", len(events), err)
		}
		last := events[len(events)-1]
		if m := last.Data.Member; last.Event.Type != "membership.added" || m == nil || len(m.Groups) != 1 || m.Groups[0].DisplayName != "Renamed team" {
			t.Fatalf("the last event: %s, member %+v", last.Event.Type, last.Data.Member)
		}
	})
}
