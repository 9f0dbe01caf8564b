package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// membersOf is the members of one group as every read shows them, in id order.
func membersOf(t *testing.T, s *sqlstore.Store, org, group string) []string {
	t.Helper()
	got, _, err := s.Members(context.Background(), org, []string{group}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range got[group] {
		ids = append(ids, m.Value)
	}
	slices.Sort(ids)
	return ids
}

// groupsWithMember counts the groups a members filter finds.
func groupsWithMember(t *testing.T, s *sqlstore.Store, org, member string) int {
	t.Helper()
	expr, err := filter.ParseFilter(fmt.Appendf(nil, `members.value eq %q`, member))
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.List(context.Background(), org, store.KindGroup, store.Query{Filter: expr, Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Total
}

// memberRows counts a member's membership rows, waiting or not.
func memberRows(t *testing.T, s *sqlstore.Store, org, member string) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(context.Background(), s.Rebind(`SELECT COUNT(*) FROM scim_group_members WHERE org = ? AND member_id = ?`),
		org, member).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A user (or a nested group) that is a member of more groups than one transaction's share is
// deleted at once, and its memberships end a share at a time, each once with its event; until
// then no group's members, a filter on them or the member's groups show it. A small group
// deleted meanwhile ends its membership itself, with its names, and the worker does not end it
// again; a large one's waiting membership is ended with its names as its deletion left them.
func TestADeletedMemberOfManyGroupsLeavesThemAShareATime(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		sqlstore.SetMembersPerTransaction(t, 3)
		p := adminsPolicy()
		org := fmt.Sprintf("member-work-%d", time.Now().UnixNano())
		other := org + "-other"
		for _, o := range []string{org, other} {
			createUsers(t, s, o, 3, &p)
			makeGroup(t, s, o, "n", "Nested", nil, p)
			makeGroup(t, s, o, "ga", "Admins", []string{"u0", "u1"}, p)
			for i := range 6 {
				makeGroup(t, s, o, fmt.Sprintf("g%d", i), fmt.Sprintf("G%d", i), []string{"u0", "u1", "n"}, p)
			}
			makeGroup(t, s, o, "gbig", "Big", []string{"u0", "u1", "u2", "n"}, p)
		}
		w := store.Write{Policy: &p}

		if err := s.Delete(ctx, org, store.KindUser, "u0", 0, w); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, org, store.KindGroup, "n", 0, w); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, org, store.KindUser, "u0"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the deleted user: %v", err)
		}
		if got := memberRows(t, s, org, "u0") + memberRows(t, s, org, "n"); got != 8+7 {
			t.Fatalf("%d membership rows of the deleted members right after, want all 15 left for the group worker", got)
		}
		if groups, _, err := s.GroupsOf(ctx, org, []string{"u0", "n", "u1"}, 100); err != nil || len(groups["u0"])+len(groups["n"]) != 0 ||
			len(groups["u1"]) != 8 {
			t.Fatalf("the members' groups right after the deletions: %v, %v; want u1's 8 only", groups, err)
		}
		if got := membersOf(t, s, org, "g0"); !slices.Equal(got, []string{"u1"}) {
			t.Fatalf("g0's members right after the deletions: %v, want only u1", got)
		}
		if n := groupsWithMember(t, s, org, "u0") + groupsWithMember(t, s, org, "n"); n != 0 {
			t.Fatalf("a members filter finds %d groups of the deleted members", n)
		}
		if n := groupsWithMember(t, s, org, "u1"); n != 8 {
			t.Fatalf("a members filter finds %d groups of u1, want 8", n)
		}
		for _, e := range eventsOf(t, s, org) {
			if e.Event.Subject == "u0" && e.Event.Type == provisioning.MemberDeactivated && (e.Data.Member == nil || len(e.Data.Member.Groups) != 0) {
				t.Fatalf("the deleted user's snapshot shows groups: %+v", e.Data.Member)
			}
		}
		got := eventCounts(t, s, org)
		if got[provisioning.MemberDeactivated] != 1 || got[provisioning.GroupDeleted] != 1 || got[provisioning.MembershipRemoved] != 0 {
			t.Fatalf("events right after the deletions: %v", got)
		}
		work := pendingOf(t, s, org)
		if len(work) != 2 || work[0].Kind != store.MemberDeleted || work[0].GroupID != "u0" || work[1].GroupID != "n" {
			t.Fatalf("pending work: %+v", work)
		}

		// A small group's deletion ends the memberships it has, a waiting one too, with its names;
		// a large one's leaves them waiting too.
		for _, g := range []string{"g5", "gbig"} {
			if err := s.Delete(ctx, org, store.KindGroup, g, 0, w); err != nil {
				t.Fatal(err)
			}
		}
		for _, piece := range work {
			rows := memberRows(t, s, org, piece.GroupID)
			for part := 1; ; part++ {
				more, err := s.DoGroupWork(ctx, piece, w)
				if err != nil {
					t.Fatal(err)
				}
				left := memberRows(t, s, org, piece.GroupID)
				if want := max(rows-3, 0); left != want || part > 3 {
					t.Fatalf("after part %d of %s's work: %d rows, want %d", part, piece.GroupID, left, want)
				}
				if rows = left; !more {
					break
				}
			}
		}
		for _, piece := range pendingOf(t, s, org) { // the large group's own
			for more := true; more; {
				var err error
				if more, err = s.DoGroupWork(ctx, piece, w); err != nil {
					t.Fatal(err)
				}
			}
		}
		if work := pendingOf(t, s, org); len(work) != 0 {
			t.Fatalf("work left once done: %+v", work)
		}
		ended := map[string]int{}
		for _, e := range eventsOf(t, s, org) {
			if e.Event.Type != provisioning.MembershipRemoved {
				continue
			}
			if e.Event.Subject != "u0" {
				if e.Event.Group != "g5" && e.Event.Group != "gbig" {
					// The worker ends a nested group's memberships without events, as a deletion does.
					t.Fatalf("%s's membership of %s ended with an event", e.Event.Subject, e.Event.Group)
				}
				continue
			}
			ended[e.Event.Group]++
			if e.Data.Member == nil || len(e.Data.Member.Groups) != 0 {
				t.Fatalf("the deleted user's snapshot in the end of its membership of %s shows groups: %+v", e.Event.Group, e.Data.Member)
			}
			if want := map[string]string{"g5": "G5", "gbig": "Big"}[e.Event.Group]; want != "" && (e.Data.Group == nil || e.Data.Group.DisplayName != want) {
				t.Fatalf("the deleted group %s's end of the membership names it as %+v", e.Event.Group, e.Data.Group)
			}
		}
		if len(ended) != 8 {
			t.Fatalf("u0's memberships ended: %v, want each of its 8 groups", ended)
		}
		for g, n := range ended {
			if n != 1 {
				t.Fatalf("u0's membership of %s ended %d times", g, n)
			}
		}
		if got := membersOf(t, s, org, "g0"); !slices.Equal(got, []string{"u1"}) {
			t.Fatalf("g0's members once done: %v", got)
		}
		if r := memberRole(t, s, org, "u1"); r != "admin" {
			t.Fatalf("u1's role once done: %q", r)
		}
		if got := membersOf(t, s, other, "g0"); !slices.Equal(got, []string{"n", "u0", "u1"}) {
			t.Fatalf("the other organization's g0: %v", got)
		}
		if got := memberRows(t, s, other, "u0"); got != 8 {
			t.Fatalf("the other organization's u0 has %d memberships", got)
		}
	})
}
