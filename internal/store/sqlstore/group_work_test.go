package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/store/storetest"
)

// adminsPolicy gives members of the group "Admins" the role admin, others member.
func adminsPolicy() provisioning.Policy {
	p := provisioning.DefaultPolicy
	p.DefaultRole = "member"
	p.GroupRoles = []provisioning.GroupRole{{Group: "Admins", Role: "admin"}}
	return p
}

// groupOfUsers makes an organization of n users and a group of them all named name, under p.
func groupOfUsers(t *testing.T, s *sqlstore.Store, prefix, name string, n int, p provisioning.Policy) string {
	t.Helper()
	org := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	createUsers(t, s, org, n, &p)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%d", i)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	g := &store.Resource{Org: org, Kind: store.KindGroup, ID: "g1", Name: name, Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
	atOnce(func() {
		if err := s.Create(context.Background(), g, ids, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
	})
	return org
}

// atOnce runs fn with writes of any number of members done in their own transaction (a test's
// setup, before the scenario's lower provisioning.MembersPerTransaction).
func atOnce(fn func()) {
	before := provisioning.MembersPerTransaction
	provisioning.MembersPerTransaction = 1 << 30
	defer func() { provisioning.MembersPerTransaction = before }()
	fn()
}

func membershipRows(t *testing.T, s *sqlstore.Store, org string) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRowContext(context.Background(), s.Rebind(`SELECT COUNT(*) FROM scim_group_members WHERE org = ?`), org).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func rolesOf(t *testing.T, s *sqlstore.Store, org string, n int) map[string]int {
	t.Helper()
	roles := map[string]int{}
	for i := range n {
		m, err := s.Member(context.Background(), org, fmt.Sprintf("u%d", i))
		if err != nil {
			t.Fatal(err)
		}
		roles[m.Member.Role]++
	}
	return roles
}

func eventCounts(t *testing.T, s *sqlstore.Store, org string) map[provisioning.EventType]int {
	t.Helper()
	counts := map[provisioning.EventType]int{}
	for _, e := range eventsOf(t, s, org) {
		counts[e.Event.Type]++
	}
	return counts
}

// pendingOf is the deferred group work of one organization.
func pendingOf(t *testing.T, s *sqlstore.Store, org string) []store.GroupWork {
	t.Helper()
	all, err := s.PendingGroupWork(context.Background(), []string{org}, 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.GroupWork
	for _, w := range all {
		if w.Org == org {
			out = append(out, w)
		}
	}
	return out
}

// A group larger than one transaction's share is deleted at once, and its memberships end a
// transaction's share at a time, each with its event and its member's role; until then no read
// shows the group, and another organization's group is untouched.
func TestALargeGroupsMembershipsEndAShareATime(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		sqlstore.SetMembersPerTransaction(t, 3)
		p := adminsPolicy()
		org := groupOfUsers(t, s, "group-work-delete", "Admins", 7, p)
		other := groupOfUsers(t, s, "group-work-other", "Admins", 7, p)
		if got := rolesOf(t, s, org, 7); got["admin"] != 7 {
			t.Fatalf("roles before: %v", got)
		}

		if err := s.Delete(ctx, org, store.KindGroup, "g1", 0, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, org, store.KindGroup, "g1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the deleted group: %v", err)
		}
		if n := membershipRows(t, s, org); n != 7 {
			t.Fatalf("%d membership rows right after the deletion, want all 7 left for the group worker", n)
		}
		u, err := s.Get(ctx, org, store.KindUser, "u0")
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Groups) != 0 {
			t.Fatalf("a member's groups show the deleted group: %+v", u.Groups)
		}
		expr, err := filter.ParseFilter([]byte(`groups.value eq "g1"`))
		if err != nil {
			t.Fatal(err)
		}
		page, err := s.List(ctx, org, store.KindUser, store.Query{Filter: expr, Count: 100})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 0 {
			t.Fatalf("a filter on the deleted group's id found %d users", page.Total)
		}
		if got := eventCounts(t, s, org); got[provisioning.GroupDeleted] != 1 || got[provisioning.MembershipRemoved] != 0 {
			t.Fatalf("events right after the deletion: %v", got)
		}

		work := pendingOf(t, s, org)
		if len(work) != 1 || work[0].Kind != store.GroupDeleted || work[0].GroupID != "g1" {
			t.Fatalf("pending work: %+v", work)
		}
		for i, want := range []struct {
			rows int
			more bool
		}{{4, true}, {1, true}, {0, false}} {
			more, err := s.DoGroupWork(ctx, work[0], store.Write{Policy: &p})
			if err != nil {
				t.Fatal(err)
			}
			if n := membershipRows(t, s, org); n != want.rows || more != want.more {
				t.Fatalf("after part %d: %d membership rows, more %v; want %d, %v", i+1, n, more, want.rows, want.more)
			}
		}
		if work := pendingOf(t, s, org); len(work) != 0 {
			t.Fatalf("work left once done: %+v", work)
		}
		got := eventCounts(t, s, org)
		if got[provisioning.MembershipRemoved] != 7 || got[provisioning.MemberRoleChanged] != 7+7 {
			t.Fatalf("events once done: %v (want 7 memberships removed, 7 roles given and 7 taken)", got)
		}
		for _, e := range eventsOf(t, s, org) {
			if e.Event.Type == provisioning.MembershipRemoved && (e.Event.Group != "g1" || e.Data.Group == nil ||
				e.Data.Group.DisplayName != "Admins" || e.Data.Member == nil) {
				t.Fatalf("a membership's end names its group as %+v, %+v", e.Event.Group, e.Data.Group)
			}
		}
		if got := rolesOf(t, s, org, 7); got["member"] != 7 {
			t.Fatalf("roles once done: %v", got)
		}
		if n := membershipRows(t, s, other); n != 7 {
			t.Fatalf("the other organization's group has %d memberships, want 7", n)
		}
		if got := rolesOf(t, s, other, 7); got["admin"] != 7 {
			t.Fatalf("the other organization's roles: %v", got)
		}
	})
}

// A rename of a large group onto a role mapping reviews its members' roles a transaction's share
// at a time; a small group's rename reviews them in its own write.
func TestALargeGroupsRenameReviewsRolesAShareATime(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		sqlstore.SetMembersPerTransaction(t, 3)
		p := adminsPolicy()
		rename := func(org string) {
			if _, err := storetest.Update(ctx, s, org, store.KindGroup, "g1", 0, func(cur *store.Resource) (*store.Change, error) {
				next := *cur
				next.Name = "Admins"
				next.Doc = []byte(`{"displayName":"Admins"}`)
				return &store.Change{Resource: &next}, nil
			}, store.Write{Policy: &p}); err != nil {
				t.Fatal(err)
			}
		}
		small := groupOfUsers(t, s, "group-work-small", "Staff", 3, p)
		rename(small)
		if got := rolesOf(t, s, small, 3); got["admin"] != 3 {
			t.Fatalf("a small group's rename: roles %v", got)
		}
		if work := pendingOf(t, s, small); len(work) != 0 {
			t.Fatalf("a small group's rename left work: %+v", work)
		}

		org := groupOfUsers(t, s, "group-work-rename", "Staff", 7, p)
		rename(org)
		if got := rolesOf(t, s, org, 7); got["member"] != 7 {
			t.Fatalf("roles right after a large group's rename: %v, want them left for the group worker", got)
		}
		work := pendingOf(t, s, org)
		if len(work) != 1 || work[0].Kind != store.GroupRolesToReview {
			t.Fatalf("pending work: %+v", work)
		}
		for i, want := range []struct {
			admins int
			more   bool
		}{{3, true}, {6, true}, {7, false}} {
			more, err := s.DoGroupWork(ctx, work[0], store.Write{Policy: &p})
			if err != nil {
				t.Fatal(err)
			}
			if got := rolesOf(t, s, org, 7); got["admin"] != want.admins || more != want.more {
				t.Fatalf("after part %d: roles %v, more %v; want %d admins, %v", i+1, got, more, want.admins, want.more)
			}
		}
		if got := eventCounts(t, s, org); got[provisioning.MemberRoleChanged] != 7 {
			t.Fatalf("role events: %v", got)
		}
		if work := pendingOf(t, s, org); len(work) != 0 {
			t.Fatalf("work left once done: %+v", work)
		}
	})
}

// A write replacing a group's members may remove only so many; more is refused, and nothing of
// it written.
func TestAReplaceRemovesABoundedNumberOfMembers(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		sqlstore.SetMaxMembersRemoved(t, 3)
		p := adminsPolicy()
		org := groupOfUsers(t, s, "group-work-replace", "Team", 7, p)
		replace := func(keep ...string) error {
			_, err := storetest.Update(ctx, s, org, store.KindGroup, "g1", 0, func(cur *store.Resource) (*store.Change, error) {
				next := *cur
				return &store.Change{Resource: &next, Members: &store.MemberChange{Replace: true, Add: keep}}, nil
			}, store.Write{Policy: &p})
			return err
		}
		if err := replace("u0", "u1", "u2"); !errors.Is(err, store.ErrTooManyRemoved) {
			t.Fatalf("a replace removing 4 of 7: %v, want ErrTooManyRemoved", err)
		}
		if err := replace(); !errors.Is(err, store.ErrTooManyRemoved) {
			t.Fatalf("a replace removing all 7: %v, want ErrTooManyRemoved", err)
		}
		if n := membershipRows(t, s, org); n != 7 {
			t.Fatalf("%d memberships after refused replaces, want 7", n)
		}
		if err := replace("u0", "u1", "u2", "u3"); err != nil {
			t.Fatalf("a replace removing 3: %v", err)
		}
		if n := membershipRows(t, s, org); n != 4 {
			t.Fatalf("%d memberships after removing 3 of 7, want 4", n)
		}
	})
}

// makeGroup creates a group of the organization with these members.
func makeGroup(t *testing.T, s *sqlstore.Store, org, id, name string, members []string, p provisioning.Policy) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	g := &store.Resource{Org: org, Kind: store.KindGroup, ID: id, Name: name, Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
	atOnce(func() {
		if err := s.Create(context.Background(), g, members, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
	})
}

// A deleted group's memberships that wait for the group worker take no place of a group that is
// there in a user's bounded groups, and a user deleted meanwhile leaves them to the worker,
// which ends them with the group's names.
func TestADeletedGroupsWaitingMembershipsAreInNoOnesWay(t *testing.T) {
	sqlstore.SetUserGroupsRead(t, 2)
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		sqlstore.SetMembersPerTransaction(t, 1)
		p := adminsPolicy()
		org := fmt.Sprintf("group-work-waiting-%d", time.Now().UnixNano())
		createUsers(t, s, org, 2, &p)
		makeGroup(t, s, org, "ga", "Admins", []string{"u0", "u1"}, p)
		makeGroup(t, s, org, "gb", "B", []string{"u0"}, p)
		makeGroup(t, s, org, "gc", "C", []string{"u0"}, p)
		if err := s.Delete(ctx, org, store.KindGroup, "ga", 0, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
		u, err := s.Get(ctx, org, store.KindUser, "u0")
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Groups) != 2 || u.Groups[0].Value != "gb" || u.Groups[1].Value != "gc" {
			t.Fatalf("u0's groups read 2 at most: %+v, want gb and gc", u.Groups)
		}

		if err := s.Delete(ctx, org, store.KindUser, "u1", 0, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
		if got := eventCounts(t, s, org); got[provisioning.MembershipRemoved] != 0 {
			t.Fatalf("events before the worker: %v", got)
		}
		work := pendingOf(t, s, org)
		if len(work) != 1 {
			t.Fatalf("pending work: %+v", work)
		}
		for more := true; more; {
			if more, err = s.DoGroupWork(ctx, work[0], store.Write{Policy: &p}); err != nil {
				t.Fatal(err)
			}
		}
		removed := map[string]bool{}
		for _, e := range eventsOf(t, s, org) {
			if e.Event.Type == provisioning.MembershipRemoved {
				if e.Data.Group == nil || e.Data.Group.DisplayName != "Admins" {
					t.Fatalf("the end of %s's membership names the group %+v", e.Event.Subject, e.Data.Group)
				}
				removed[e.Event.Subject] = true
			}
		}
		if len(removed) != 2 {
			t.Fatalf("memberships ended: %v, want u0 and u1 (deleted meanwhile)", removed)
		}
		roleChanges := map[string]int{}
		for _, e := range eventsOf(t, s, org) {
			if e.Event.Type == provisioning.MemberRoleChanged {
				roleChanges[e.Event.Subject]++
			}
		}
		if roleChanges["u0"] != 2 || roleChanges["u1"] != 1 {
			t.Fatalf("role changes: %v; want u0's given and taken, u1's only given (deleting a user changes no role)", roleChanges)
		}
	})
}

// Pending work is listed a few pieces per organization, so one organization's many pieces do not
// hide another's; a role review whose mappings are gone is dropped, not walked.
func TestPendingGroupWorkTakesOrganizationsInTurns(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		sqlstore.SetMembersPerTransaction(t, 1)
		p := adminsPolicy()
		busy := fmt.Sprintf("group-work-busy-%d", time.Now().UnixNano())
		createUsers(t, s, busy, 2, &p)
		for i := range 4 {
			makeGroup(t, s, busy, fmt.Sprintf("g%d", i), fmt.Sprintf("Group %d", i), []string{"u0", "u1"}, p)
			if err := s.Delete(ctx, busy, store.KindGroup, fmt.Sprintf("g%d", i), 0, store.Write{Policy: &p}); err != nil {
				t.Fatal(err)
			}
		}
		quiet := fmt.Sprintf("group-work-quiet-%d", time.Now().UnixNano())
		createUsers(t, s, quiet, 2, &p)
		makeGroup(t, s, quiet, "g0", "Staff", []string{"u0", "u1"}, p)
		if _, err := storetest.Update(ctx, s, quiet, store.KindGroup, "g0", 0, func(cur *store.Resource) (*store.Change, error) {
			next := *cur
			next.Name = "Admins"
			return &store.Change{Resource: &next}, nil
		}, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}

		all, err := s.PendingGroupWork(ctx, []string{busy, quiet}, 2, 1000)
		if err != nil {
			t.Fatal(err)
		}
		per := map[string][]string{}
		for _, w := range all {
			if w.Org == busy || w.Org == quiet {
				per[w.Org] = append(per[w.Org], w.GroupID)
			}
		}
		if fmt.Sprint(per[busy]) != "[g0 g1]" || fmt.Sprint(per[quiet]) != "[g0]" {
			t.Fatalf("listed two per organization: %v", per)
		}

		noMappings := provisioning.DefaultPolicy
		more, err := s.DoGroupWork(ctx, store.GroupWork{Org: quiet, GroupID: "g0", Kind: store.GroupRolesToReview}, store.Write{Policy: &noMappings})
		if err != nil || more {
			t.Fatalf("a role review without mappings: more %v, %v", more, err)
		}
		if work := pendingOf(t, s, quiet); len(work) != 0 {
			t.Fatalf("a role review without mappings is still pending: %+v", work)
		}
		if got := rolesOf(t, s, quiet, 2); got["member"] != 2 {
			t.Fatalf("roles after a review without mappings: %v", got)
		}
	})
}
