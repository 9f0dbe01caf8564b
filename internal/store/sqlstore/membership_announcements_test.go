package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/store/storetest"
)

// doAll does an organization's pending group work to the end, and returns how many parts each
// piece took.
func doAll(t *testing.T, s *sqlstore.Store, org string, p provisioning.Policy) []int {
	t.Helper()
	var parts []int
	for _, piece := range pendingOf(t, s, org) {
		n := 0
		for more := true; more; n++ {
			var err error
			if more, err = s.DoGroupWork(context.Background(), piece, store.Write{Policy: &p}); err != nil {
				t.Fatal(err)
			}
		}
		parts = append(parts, n)
	}
	return parts
}

// changeMembers adds and removes members of a group in one write.
func changeMembers(t *testing.T, s *sqlstore.Store, org, group string, add, remove []string, replace bool, p provisioning.Policy) {
	t.Helper()
	if _, err := storetest.Update(context.Background(), s, org, store.KindGroup, group, 0, func(cur *store.Resource) (*store.Change, error) {
		next := *cur
		return &store.Change{Resource: &next, Members: &store.MemberChange{Add: add, Remove: remove, Replace: replace}}, nil
	}, store.Write{Policy: &p}); err != nil {
		t.Fatal(err)
	}
}

// A write adding or removing more members than one transaction's share changes the memberships
// at once and leaves their events and roles to the group worker, a share at a time: each
// announced once, and only while still true (a write since announced its own change), with the
// group's names, the ones it was deleted under once it is gone.
func TestALargeMemberChangeIsAnnouncedAShareATime(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		sqlstore.SetMembersPerTransaction(t, 3)
		p := adminsPolicy()
		org := fmt.Sprintf("announce-%d", time.Now().UnixNano())
		other := org + "-other"
		for _, o := range []string{org, other} {
			createUsers(t, s, o, 7, &p)
			makeGroup(t, s, o, "ga", "Admins", nil, p)
		}
		all := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6"}
		changeMembers(t, s, org, "ga", all, nil, false, p)
		if got := membersOf(t, s, org, "ga"); !slices.Equal(got, all) {
			t.Fatalf("members right after the write: %v", got)
		}
		if got := eventCounts(t, s, org); got[provisioning.GroupUpdated] != 1 || got[provisioning.MembershipAdded] != 0 || got[provisioning.MemberRoleChanged] != 0 {
			t.Fatalf("events right after the write: %v", got)
		}
		if work := pendingOf(t, s, org); len(work) != 1 || work[0].Kind != store.GroupMembersToAnnounce {
			t.Fatalf("pending work: %+v", work)
		}
		// A write since announces its own change: u6's addition is no longer true.
		changeMembers(t, s, org, "ga", nil, []string{"u6"}, false, p)
		if parts := doAll(t, s, org, p); !slices.Equal(parts, []int{3}) {
			t.Fatalf("parts: %v, want one piece of 3 (7 members, 3 a part)", parts)
		}
		added := map[string]int{}
		for _, e := range eventsOf(t, s, org) {
			if e.Event.Type == provisioning.MembershipAdded {
				added[e.Event.Subject]++
				if e.Data.Group == nil || e.Data.Group.DisplayName != "Admins" {
					t.Fatalf("an addition names its group as %+v", e.Data.Group)
				}
			}
		}
		if len(added) != 6 || added["u6"] != 0 {
			t.Fatalf("additions announced: %v, want u0–u5 once each", added)
		}
		if got := rolesOf(t, s, org, 7); got["admin"] != 6 || got["member"] != 1 {
			t.Fatalf("roles once announced: %v", got)
		}

		// A replace removing them all, then the group's deletion: the removals are announced,
		// with the names the write left, after the group is gone.
		changeMembers(t, s, org, "ga", nil, nil, true, p)
		if err := s.Delete(ctx, org, store.KindGroup, "ga", 0, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
		doAll(t, s, org, p)
		removed := map[string]int{}
		for _, e := range eventsOf(t, s, org) {
			if e.Event.Type == provisioning.MembershipRemoved {
				removed[e.Event.Subject]++
				if e.Data.Group == nil || e.Data.Group.DisplayName != "Admins" {
					t.Fatalf("a removal names its group as %+v", e.Data.Group)
				}
			}
		}
		if len(removed) != 7 {
			t.Fatalf("removals announced: %v, want each of u0–u6 once", removed)
		}
		for id, n := range removed {
			if n != 1 {
				t.Fatalf("%s's removal announced %d times", id, n)
			}
		}
		if got := rolesOf(t, s, org, 7); got["member"] != 7 {
			t.Fatalf("roles once the removals are announced: %v", got)
		}
		if work := pendingOf(t, s, org); len(work) != 0 {
			t.Fatalf("work left: %+v", work)
		}
		if work := pendingOf(t, s, other); len(work) != 0 {
			t.Fatalf("the other organization's work: %+v", work)
		}
	})
}

// What a large member change left to announce is announced as the group and its members are
// when the worker reaches them: nothing of a group deleted meanwhile but its end (its own work
// announces the memberships ending), once for a member changed twice since (those writes
// announced their own changes), nothing of a change undone by the next large one, and under the
// group's current name, or the one it was deleted under.
func TestALargeMemberChangeIsAnnouncedAsThingsAreNow(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		sqlstore.SetMembersPerTransaction(t, 3)
		p := adminsPolicy()
		org := fmt.Sprintf("announce-now-%d", time.Now().UnixNano())
		createUsers(t, s, org, 7, &p)
		all := []string{"u0", "u1", "u2", "u3", "u4", "u5", "u6"}
		makeGroup(t, s, org, "gb", "Big", nil, p)
		makeGroup(t, s, org, "gc", "Crew", nil, p)
		makeGroup(t, s, org, "gd", "Duo", nil, p)
		changeMembers(t, s, org, "gb", all, nil, false, p)
		changeMembers(t, s, org, "gc", all, nil, false, p)
		// Added and removed again before the worker: as if neither happened.
		changeMembers(t, s, org, "gd", all, nil, false, p)
		changeMembers(t, s, org, "gd", nil, nil, true, p)
		// Emptied, renamed and deleted: the removals name it as it was deleted.
		makeGroup(t, s, org, "ge", "Echo", all, p)
		changeMembers(t, s, org, "ge", nil, nil, true, p)
		if _, err := storetest.Update(ctx, s, org, store.KindGroup, "ge", 0, func(cur *store.Resource) (*store.Change, error) {
			next := *cur
			next.Name = "Echo 2"
			return &store.Change{Resource: &next}, nil
		}, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, org, store.KindGroup, "ge", 0, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, org, store.KindGroup, "gb", 0, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
		changeMembers(t, s, org, "gc", nil, []string{"u0"}, false, p)
		changeMembers(t, s, org, "gc", []string{"u0"}, nil, false, p)
		if _, err := storetest.Update(ctx, s, org, store.KindGroup, "gc", 0, func(cur *store.Resource) (*store.Change, error) {
			next := *cur
			next.Name = "Crew 2"
			return &store.Change{Resource: &next}, nil
		}, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
		doAll(t, s, org, p)
		type key struct {
			typ           provisioning.EventType
			group, member string
		}
		seen := map[key]int{}
		for _, e := range eventsOf(t, s, org) {
			if e.Event.Type != provisioning.MembershipAdded && e.Event.Type != provisioning.MembershipRemoved {
				continue
			}
			seen[key{e.Event.Type, e.Event.Group, e.Event.Subject}]++
			if e.Event.Group == "gc" && e.Event.Type == provisioning.MembershipAdded && e.Event.Subject != "u0" &&
				(e.Data.Group == nil || e.Data.Group.DisplayName != "Crew 2") {
				t.Fatalf("an addition to gc names it as %+v, want its name now", e.Data.Group)
			}
			if e.Event.Group == "ge" && e.Event.Type == provisioning.MembershipRemoved && (e.Data.Group == nil || e.Data.Group.DisplayName != "Echo 2") {
				t.Fatalf("a removal from the deleted ge names it as %+v, want the name it was deleted under", e.Data.Group)
			}
		}
		for _, id := range all {
			if n := seen[key{provisioning.MembershipAdded, "gb", id}]; n != 0 {
				t.Fatalf("%s's addition to the deleted group announced %d times", id, n)
			}
			if n := seen[key{provisioning.MembershipRemoved, "gb", id}]; n != 1 {
				t.Fatalf("%s's membership of the deleted group ended %d times", id, n)
			}
			if n := seen[key{provisioning.MembershipAdded, "gc", id}]; n != 1 {
				t.Fatalf("%s's addition to gc announced %d times", id, n)
			}
			if n := seen[key{provisioning.MembershipAdded, "gd", id}] + seen[key{provisioning.MembershipRemoved, "gd", id}]; n != 0 {
				t.Fatalf("%s's addition to gd and removal again announced %d times, want neither", id, n)
			}
			if n := seen[key{provisioning.MembershipRemoved, "ge", id}]; n != 1 {
				t.Fatalf("%s's removal from ge announced %d times", id, n)
			}
		}
		if n := seen[key{provisioning.MembershipRemoved, "gc", "u0"}]; n != 1 {
			t.Fatalf("u0's removal from gc announced %d times", n)
		}
	})
}
