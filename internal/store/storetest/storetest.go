// Package storetest is the conformance suite every store.Store implementation passes: SQLite
// always, PostgreSQL wherever a server is available (make test starts one).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

var orgCounter atomic.Int64

// newOrg returns an organization slug unique to this run, so tests share one database.
func newOrg() string { return fmt.Sprintf("org-%d-%d", time.Now().UnixNano(), orgCounter.Add(1)) }

// Run runs the conformance suite against s.
func Run(t *testing.T, s store.Store) {
	t.Run("create and get stay inside the organization", func(t *testing.T) { testCreateGet(t, s) })
	t.Run("userName is unique per organization, case-insensitively", func(t *testing.T) { testUniqueness(t, s) })
	t.Run("update is versioned and skips no-op changes", func(t *testing.T) { testUpdate(t, s) })
	t.Run("an update writes the indexed columns it changes, alone or together", func(t *testing.T) { testIndexedColumns(t, s) })
	t.Run("delete removes the resource and its memberships", func(t *testing.T) { testDelete(t, s) })
	t.Run("group membership", func(t *testing.T) { testMembers(t, s) })
	t.Run("members are read up to a limit, whole groups in order", func(t *testing.T) { testMembersLimit(t, s) })
	t.Run("filters run in the database", func(t *testing.T) { testFilters(t, s) })
	t.Run("sorting follows RFC 7644", func(t *testing.T) { testSorting(t, s) })
	t.Run("pagination and sorting", func(t *testing.T) { testPagination(t, s) })
	t.Run("deleting an organization leaves others alone", func(t *testing.T) { testDeleteOrganization(t, s) })
	t.Run("an organization's data belongs to one claim", func(t *testing.T) { testOrganizationOwner(t, s) })
	t.Run("what an organization's integration serves is recorded with its binding", func(t *testing.T) { testOrganizationTokens(t, s) })
	t.Run("writes land only under the claim owning the organization", func(t *testing.T) { testWritesFollowTheOwner(t, s) })
	t.Run("member effects and audit events commit with the write, or not at all", func(t *testing.T) { testEffects(t, s) })
	t.Run("members are listed, searched and reviewed", func(t *testing.T) { testReview(t, s) })
	t.Run("users are read by id, many at once", func(t *testing.T) { testUsersByID(t, s) })
	t.Run("wizard sign-outs, one a user, forgotten after the sessions' lifetime", func(t *testing.T) { testSignOuts(t, s) })
}

func testReview(t *testing.T, s store.Store) {
	org := newOrg()
	p := provisioning.Policy{AutoActivate: false, OnDeactivate: provisioning.Suspend, OnDelete: provisioning.Deactivate}
	for i, name := range []string{"ada", "bob", "cy"} {
		r := user(org, fmt.Sprintf("u%d", i), name, `{"displayName":"`+strings.ToUpper(name)+` Person"}`)
		must(t, s.Create(ctx, r, nil, store.Write{Policy: &p}))
	}
	list, next, err := s.ListMembers(ctx, org, store.MemberQuery{Limit: 2})
	must(t, err)
	if len(list) != 2 || next != "u1" || list[0].Member.State != provisioning.PendingReview {
		t.Fatalf("first page: %+v next %q", list, next)
	}
	list, next, err = s.ListMembers(ctx, org, store.MemberQuery{Limit: 2, After: next})
	must(t, err)
	if len(list) != 1 || next != "" || list[0].UserName != "cy" {
		t.Fatalf("second page: %+v next %q", list, next)
	}
	list, _, err = s.ListMembers(ctx, org, store.MemberQuery{Search: "bob p"})
	must(t, err)
	if len(list) != 1 || list[0].UserID != "u1" {
		t.Fatalf("search by display name: %+v", list)
	}
	rec, err := s.ReviewMember(ctx, org, "u0", true, store.AuditEvent{RequestID: "r1", Action: "member.approve", Status: 200})
	must(t, err)
	if rec.Member.State != provisioning.Active || len(rec.History) != 2 {
		t.Fatalf("approve: %+v", rec)
	}
	rec, err = s.ReviewMember(ctx, org, "u1", false, store.AuditEvent{RequestID: "r2", Action: "member.reject", Status: 200})
	must(t, err)
	if rec.Member.State != provisioning.Deactivated || rec.Employee.Active {
		t.Fatalf("reject: %+v", rec)
	}
	list, _, err = s.ListMembers(ctx, org, store.MemberQuery{State: "PendingReview"})
	must(t, err)
	if len(list) != 1 || list[0].UserID != "u2" {
		t.Fatalf("filter by state: %+v", list)
	}
	// Audit filters.
	must(t, s.RecordAudit(ctx, []store.AuditEvent{
		{Org: org, RequestID: "x1", Action: "user.create", Status: 409, ScimType: "uniqueness", ResourceID: "u9", Time: time.Now().Add(-time.Minute)},
		{Org: org, RequestID: "x2", Action: "user.read", Status: 200, ResourceID: "u9", Path: "/scim/v2/" + org + "/Users/u9"},
		{Org: org, RequestID: "x3", Action: "member.active", Status: 200, ResourceID: "u9"},
	}))
	requests, err := s.AuditEvents(ctx, org, store.AuditQuery{SCIMRequests: true, Limit: 1})
	must(t, err)
	if len(requests) != 1 || requests[0].RequestID != "x2" {
		t.Fatalf("the last SCIM request, not the member event after it: %+v", requests)
	}
	failed, err := s.AuditEvents(ctx, org, store.AuditQuery{Failed: true})
	must(t, err)
	if len(failed) != 1 || failed[0].RequestID != "x1" || failed[0].ScimType != "uniqueness" {
		t.Fatalf("failed events: %+v", failed)
	}
	reads, err := s.AuditEvents(ctx, org, store.AuditQuery{Action: "user.read", ResourceID: "u9", Succeeded: true, Since: time.Now().Add(-10 * time.Second)})
	must(t, err)
	if len(reads) != 1 || reads[0].RequestID != "x2" {
		t.Fatalf("filtered events: %+v", reads)
	}
	if _, err := s.ReviewMember(ctx, org, "nobody", true, store.AuditEvent{RequestID: "r3", Action: "member.approve"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reviewing an unknown member: %v", err)
	}
}

func testEffects(t *testing.T, s store.Store) {
	org := newOrg()
	p := provisioning.Policy{AutoActivate: true, OnDeactivate: provisioning.Suspend, OnDelete: provisioning.Deactivate, DefaultRole: "member"}
	w := func(action string) store.Write {
		return store.Write{Policy: &p, Audit: &store.AuditEvent{RequestID: action, Action: action, Status: 200}}
	}
	must(t, s.Create(ctx, user(org, "u1", "grace", `{"title":"Admiral"}`), nil, w("create")))
	deactivate := func(cur *store.Resource) (*store.Change, error) {
		next := *cur
		next.Active = false
		return &store.Change{Resource: &next}, nil
	}
	boom := errors.New("boom")
	if _, err := Update(ctx, s, org, store.KindUser, "u1", 0, func(cur *store.Resource) (*store.Change, error) {
		if _, err := deactivate(cur); err != nil {
			return nil, err
		}
		return nil, boom
	}, w("failed")); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := Update(ctx, s, org, store.KindUser, "u1", 7, deactivate, w("stale")); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatal(err)
	}
	m, err := s.Member(ctx, org, "u1")
	must(t, err)
	if m.Member.State != provisioning.Active || m.Employee.Title != "Admiral" || len(m.History) != 1 {
		t.Fatalf("failed writes changed the member: %+v", m)
	}
	events, err := s.AuditEvents(ctx, org, store.AuditQuery{Limit: 10})
	must(t, err)
	if len(events) != 2 || events[1].Action != "create" || events[0].Action != "member.active" {
		t.Fatalf("failed writes left audit events: %+v", events)
	}

	_, err = Update(ctx, s, org, store.KindUser, "u1", 0, deactivate, w("deactivate"))
	must(t, err)
	must(t, s.Delete(ctx, org, store.KindUser, "u1", 0, w("delete")))
	m, err = s.Member(ctx, org, "u1")
	must(t, err)
	if m.Member.State != provisioning.Deactivated || m.Employee.Active || !m.Member.Deleted || len(m.History) != 3 {
		t.Fatalf("deactivate then delete: %+v", m)
	}
	counts, err := s.MemberCounts(ctx, org)
	must(t, err)
	if counts["Deactivated"] != 1 || len(counts) != 1 {
		t.Fatalf("counts: %v", counts)
	}
	events, err = s.AuditEvents(ctx, org, store.AuditQuery{Limit: 2})
	must(t, err)
	older, err := s.AuditEvents(ctx, org, store.AuditQuery{Before: events[1].Seq, Limit: 100})
	must(t, err)
	if len(events)+len(older) != 6 {
		t.Fatalf("cursor pages: %d + %d events, want 6", len(events), len(older))
	}
	if n, err := s.PruneAudit(ctx, org, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("pruning events older than an hour removed %d (%v)", n, err)
	}
	if n, err := s.PruneAudit(ctx, org, time.Now().Add(time.Hour)); err != nil || n != 6 {
		t.Fatalf("pruning everything removed %d (%v), want 6", n, err)
	}
	must(t, s.DeleteOrganization(ctx, org, store.Binding{}))
	if _, err := s.Member(ctx, org, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleting the organization keeps its members: %v", err)
	}
}

var ctx = context.Background()

// user builds a user resource from a JSON document.
func user(org, id, userName, doc string) *store.Resource {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &store.Resource{Org: org, Kind: store.KindUser, ID: id, Name: userName, Active: true, Doc: []byte(doc), Created: now, Modified: now, Version: 1}
}

func group(org, id, name string) *store.Resource {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &store.Resource{Org: org, Kind: store.KindGroup, ID: id, Name: name, Doc: []byte(`{"displayName":"` + name + `"}`), Created: now, Modified: now, Version: 1}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testCreateGet(t *testing.T, s store.Store) {
	org, other := newOrg(), newOrg()
	u := user(org, "u1", "Ada@Example.com", `{"userName":"Ada@Example.com","name":{"givenName":"Ada"}}`)
	u.ExternalID, u.Email = "ext-1", "ADA@example.com"
	must(t, s.Create(ctx, u, nil, store.Write{}))
	got, err := s.Get(ctx, org, store.KindUser, "u1")
	must(t, err)
	if got.Name != "Ada@Example.com" || got.ExternalID != "ext-1" || !got.Active || got.Version != 1 || !got.Created.Equal(u.Created) {
		t.Fatalf("round trip changed the resource: %+v", got)
	}
	if string(got.Doc) == "" {
		t.Fatal("document lost")
	}
	if _, err := s.Get(ctx, other, store.KindUser, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another organization must not see the user, got %v", err)
	}
	if _, err := s.Get(ctx, org, store.KindGroup, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a user is not a group, got %v", err)
	}
}

func testUniqueness(t *testing.T, s store.Store) {
	org, other := newOrg(), newOrg()
	must(t, s.Create(ctx, user(org, "u1", "bob@example.com", `{}`), nil, store.Write{}))
	if err := s.Create(ctx, user(org, "u2", "BOB@example.com", `{}`), nil, store.Write{}); !errors.Is(err, store.ErrUniqueness) {
		t.Fatalf("a case variant of an existing userName must conflict, got %v", err)
	}
	must(t, s.Create(ctx, user(other, "u2", "bob@example.com", `{}`), nil, store.Write{}))
	must(t, s.Create(ctx, user(org, "u3", "carol@example.com", `{}`), nil, store.Write{}))
	_, err := Update(ctx, s, org, store.KindUser, "u3", 0, func(cur *store.Resource) (*store.Change, error) {
		next := *cur
		next.Name = "Bob@Example.com"
		return &store.Change{Resource: &next}, nil
	}, store.Write{})
	if !errors.Is(err, store.ErrUniqueness) {
		t.Fatalf("renaming onto an existing userName must conflict, got %v", err)
	}

	// A group's displayName likewise (Entra ID finds groups by it), with or without members.
	must(t, s.Create(ctx, group(org, "g1", "Sales"), nil, store.Write{}))
	if err := s.Create(ctx, group(org, "g2", "SALES"), []string{"u1"}, store.Write{}); !errors.Is(err, store.ErrUniqueness) {
		t.Fatalf("a case variant of an existing group name must conflict, got %v", err)
	}
	must(t, s.Create(ctx, group(other, "g2", "Sales"), nil, store.Write{}))
	must(t, s.Create(ctx, group(org, "g3", "Support"), nil, store.Write{}))
	rename := func(id, name string, members *store.MemberChange) error {
		_, err := Update(ctx, s, org, store.KindGroup, id, 0, func(cur *store.Resource) (*store.Change, error) {
			next := *cur
			next.Name = name
			return &store.Change{Resource: &next, Members: members}, nil
		}, store.Write{})
		return err
	}
	if err := rename("g3", "sales", nil); !errors.Is(err, store.ErrUniqueness) {
		t.Fatalf("renaming a group onto an existing name must conflict, got %v", err)
	}
	if err := rename("g3", "Sales", &store.MemberChange{Add: []string{"u1"}}); !errors.Is(err, store.ErrUniqueness) {
		t.Fatalf("renaming a group onto an existing name with a member change must conflict, got %v", err)
	}
	must(t, rename("g1", "SALES", nil)) // its own name, in another case
	// "ſ" folds to "s" but does not lower-case to it: "ſales" is another name, and renaming it
	// to "sales" takes one another group holds.
	must(t, s.Create(ctx, group(org, "g5", "ſales"), nil, store.Write{}))
	if err := rename("g5", "Sales", nil); !errors.Is(err, store.ErrUniqueness) {
		t.Fatalf("a rename that only folds to the group's own name took another's: %v", err)
	}
	must(t, rename("g3", "Help desk", &store.MemberChange{Add: []string{"u1"}}))
	must(t, s.Create(ctx, group(org, "g4", "Support"), nil, store.Write{})) // a name given up is free
}

func testUpdate(t *testing.T, s store.Store) {
	org := newOrg()
	must(t, s.Create(ctx, user(org, "u1", "dan", `{"title":"a"}`), nil, store.Write{}))
	got, err := Update(ctx, s, org, store.KindUser, "u1", 0, func(*store.Resource) (*store.Change, error) { return nil, nil }, store.Write{})
	must(t, err)
	if got.Version != 1 {
		t.Fatalf("a no-op update changed the version to %d", got.Version)
	}
	got, err = Update(ctx, s, org, store.KindUser, "u1", 1, func(cur *store.Resource) (*store.Change, error) {
		next := *cur
		next.Doc, next.Active = []byte(`{"title":"b"}`), false
		return &store.Change{Resource: &next}, nil
	}, store.Write{})
	must(t, err)
	if got.Version != 2 || got.Active || string(got.Doc) == `{"title":"a"}` {
		t.Fatalf("update not applied: %+v", got)
	}
	again, err := s.Get(ctx, org, store.KindUser, "u1")
	must(t, err)
	if again.Version != 2 || again.Active {
		t.Fatalf("update not stored: %+v", again)
	}
	if _, err := Update(ctx, s, org, store.KindUser, "u1", 1, func(*store.Resource) (*store.Change, error) { return nil, nil }, store.Write{}); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("a stale version must be refused, got %v", err)
	}
	boom := errors.New("boom")
	if _, err := Update(ctx, s, org, store.KindUser, "u1", 0, func(*store.Resource) (*store.Change, error) { return nil, boom }, store.Write{}); !errors.Is(err, boom) {
		t.Fatalf("the callback's error must come back, got %v", err)
	}
	if _, err := Update(ctx, s, newOrg(), store.KindUser, "u1", 0, func(*store.Resource) (*store.Change, error) { return nil, nil }, store.Write{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("updating another organization's user must be not found, got %v", err)
	}
	testUpdateChecksTheVersionRead(t, s, org)
}

// testUpdateChecksTheVersionRead: a change prepared from a snapshot lands only on that version.
func testUpdateChecksTheVersionRead(t *testing.T, s store.Store, org string) {
	stale, err := s.Get(ctx, org, store.KindUser, "u1")
	must(t, err)
	rename := func(cur *store.Resource, name string) *store.Change {
		next := *cur
		next.Name = name
		return &store.Change{Resource: &next}
	}
	_, err = s.Update(ctx, stale, rename(stale, "first"), store.Write{})
	must(t, err)
	if _, err := s.Update(ctx, stale, rename(stale, "second"), store.Write{}); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("a change prepared from an older version must be refused, got %v", err)
	}
	if got, _ := s.Get(ctx, org, store.KindUser, "u1"); got == nil || got.Name != "first" {
		t.Fatalf("the refused change was written: %+v", got)
	}
	elsewhere := *stale
	elsewhere.Org, elsewhere.Version = newOrg(), stale.Version+1
	if _, err := s.Update(ctx, &elsewhere, rename(&elsewhere, "x"), store.Write{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a snapshot moved to another organization must find nothing, got %v", err)
	}
	current, err := s.Get(ctx, org, store.KindUser, "u1")
	must(t, err)
	must(t, s.Delete(ctx, org, store.KindUser, "u1", 0, store.Write{}))
	if _, err := s.Update(ctx, current, rename(current, "gone"), store.Write{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("updating a deleted user must be not found, got %v", err)
	}
}

func testDelete(t *testing.T, s store.Store) {
	org := newOrg()
	must(t, s.Create(ctx, user(org, "u1", "eve", `{}`), nil, store.Write{}))
	must(t, s.Create(ctx, group(org, "g1", "Team"), []string{"u1"}, store.Write{}))
	if err := s.Delete(ctx, org, store.KindUser, "u1", 7, store.Write{}); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("delete with a stale version must be refused, got %v", err)
	}
	if err := s.Delete(ctx, newOrg(), store.KindUser, "u1", 0, store.Write{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another organization cannot delete the user, got %v", err)
	}
	must(t, s.Delete(ctx, org, store.KindUser, "u1", 1, store.Write{}))
	if _, err := s.Get(ctx, org, store.KindUser, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted user still there: %v", err)
	}
	members, _, err := s.Members(ctx, org, []string{"g1"}, 10)
	must(t, err)
	if len(members["g1"]) != 0 {
		t.Fatalf("membership of a deleted user remains: %+v", members)
	}
}

func testMembers(t *testing.T, s store.Store) {
	org, other := newOrg(), newOrg()
	for _, id := range []string{"u1", "u2", "u3"} {
		u := user(org, id, "user-"+id, `{}`)
		u.DisplayName = "User " + id
		must(t, s.Create(ctx, u, nil, store.Write{}))
	}
	must(t, s.Create(ctx, user(other, "x1", "stranger", `{}`), nil, store.Write{}))
	must(t, s.Create(ctx, group(org, "g1", "Engineering"), []string{"u1"}, store.Write{}))
	must(t, s.Create(ctx, group(org, "g2", "All"), []string{"g1"}, store.Write{}))

	change := func(c store.MemberChange) error {
		_, err := Update(ctx, s, org, store.KindGroup, "g1", 0, func(*store.Resource) (*store.Change, error) {
			return &store.Change{Members: &c}, nil
		}, store.Write{})
		return err
	}
	ids := func() []string {
		m, _, err := s.Members(ctx, org, []string{"g1"}, 10)
		must(t, err)
		out := make([]string, 0, len(m["g1"]))
		for _, x := range m["g1"] {
			out = append(out, x.Value)
		}
		slices.Sort(out)
		return out
	}
	must(t, change(store.MemberChange{Add: []string{"u2", "u2", "u1"}}))
	if got := ids(); !slices.Equal(got, []string{"u1", "u2"}) {
		t.Fatalf("adding members (with repeats) gave %v", got)
	}
	var invalid *store.InvalidMemberError
	if err := change(store.MemberChange{Add: []string{"x1"}}); !errors.As(err, &invalid) || invalid.ID != "x1" {
		t.Fatalf("a user of another organization must not become a member, got %v", err)
	}
	if got := ids(); !slices.Equal(got, []string{"u1", "u2"}) {
		t.Fatalf("a refused change must leave members unchanged, got %v", got)
	}
	// The first id in order that names nothing of the organization, or the group itself, is the
	// one refused; the members before it are not added either.
	for _, c := range []struct {
		add     []string
		refused string
	}{{[]string{"u3", "nobody", "x1"}, "nobody"}, {[]string{"u3", "g1", "nobody"}, "g1"}, {[]string{"g2", "u3", "x1", "u3"}, "x1"}} {
		if err := change(store.MemberChange{Add: c.add}); !errors.As(err, &invalid) || invalid.ID != c.refused {
			t.Fatalf("adding %v must be refused for %s, got %v", c.add, c.refused, err)
		}
		if got := ids(); !slices.Equal(got, []string{"u1", "u2"}) {
			t.Fatalf("the refused change %v left members %v", c.add, got)
		}
	}
	must(t, change(store.MemberChange{Remove: []string{"u1", "nobody"}}))
	if got := ids(); !slices.Equal(got, []string{"u2"}) {
		t.Fatalf("removing a member gave %v", got)
	}
	must(t, change(store.MemberChange{Replace: true, Add: []string{"u3", "u1"}}))
	if got := ids(); !slices.Equal(got, []string{"u1", "u3"}) {
		t.Fatalf("replacing members gave %v", got)
	}
	m, fit, err := s.Members(ctx, org, []string{"g1", "g2"}, 10)
	must(t, err)
	if fit != 2 {
		t.Fatalf("the members of two small groups fit %d of them", fit)
	}
	if len(m["g2"]) != 1 || m["g2"][0].Type != store.KindGroup || m["g2"][0].Display != "Engineering" {
		t.Fatalf("a group member has its type and display: %+v", m["g2"])
	}
	for _, x := range m["g1"] {
		if x.Type != store.KindUser || x.Display != "User "+x.Value {
			t.Fatalf("a user member has its type and display: %+v", x)
		}
	}
	groups, _, err := s.GroupsOf(ctx, org, []string{"u1", "u2", "g1"}, 10)
	must(t, err)
	if len(groups["u1"]) != 1 || groups["u1"][0].Value != "g1" || len(groups["u2"]) != 0 || groups["g1"][0].Value != "g2" {
		t.Fatalf("GroupsOf gave %+v", groups)
	}
	u1, err := s.Get(ctx, org, store.KindUser, "u1")
	must(t, err)
	if !u1.GroupsLoaded || len(u1.Groups) != 1 || u1.Groups[0].Value != "g1" || u1.Groups[0].Display != "Engineering" {
		t.Fatalf("Get must return a user with its groups: %v %+v", u1.GroupsLoaded, u1.Groups)
	}
	u2, err := s.Get(ctx, org, store.KindUser, "u2")
	must(t, err)
	if !u2.GroupsLoaded || len(u2.Groups) != 0 {
		t.Fatalf("a user in no group has none: %v %+v", u2.GroupsLoaded, u2.Groups)
	}
}

// filterUsers is the fixture of testFilters: userName → document.
var filterUsers = []struct{ id, userName, doc string }{
	{"a", "alice@example.com", `{"name":{"givenName":"Alice","familyName":"Smith"},"title":"Engineer","emails":[{"value":"alice@example.com","type":"work","primary":true},{"value":"alice@home.example","type":"home"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D","employeeNumber":"100","manager":{"value":"b"}}}`},
	{"b", "Bob@Example.com", `{"name":{"givenName":"Bob","familyName":"Jones"},"title":"Manager","emails":[{"value":"bob@example.com","type":"work"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`},
	{"c", "carol@test.example", `{"name":{"givenName":"Carol","familyName":"Smith"},"emails":[{"value":"carol@test.example","type":"home"}]}`},
	{"d", "dave+ops@example.com", `{"displayName":"Dave \"the\" Ops","name":{"familyName":"O'Neil"}}`},
}

func testFilters(t *testing.T, s store.Store) {
	org := newOrg()
	for i, u := range filterUsers {
		r := user(org, u.id, u.userName, u.doc)
		r.ExternalID = "EXT-" + u.id
		r.Active = i != 2
		must(t, s.Create(ctx, r, nil, store.Write{}))
	}
	must(t, s.Create(ctx, group(org, "g1", "Admins"), []string{"a", "b"}, store.Write{}))
	must(t, s.Create(ctx, group(org, "g2", "Nobody"), nil, store.Write{}))
	// The same userNames in another organization must never show up.
	otherOrg := newOrg()
	for _, u := range filterUsers {
		must(t, s.Create(ctx, user(otherOrg, u.id, u.userName, u.doc), nil, store.Write{}))
	}

	cases := []struct{ filter, want string }{
		{`userName eq "ALICE@example.com"`, "a"},
		{`UserName Eq "bob@example.com"`, "b"},
		{`userName ne "alice@example.com"`, "bcd"},
		{`userName sw "a"`, "a"},
		{`userName ew "example.com"`, "abd"},
		{`userName co "+ops"`, "d"},
		{`userName co "%"`, ""},
		{`userName co "_"`, ""},
		{`externalId eq "EXT-a"`, "a"},
		{`externalId eq "ext-a"`, ""},
		{`active eq false`, "c"},
		{`active eq true`, "abd"},
		{`name.familyName eq "smith"`, "ac"},
		{`name.givenName pr`, "abc"},
		{`title pr`, "ab"},
		{`not (title pr)`, "cd"},
		{`emails.value co "@example.com"`, "ab"},
		{`emails co "home"`, "a"},
		{`emails[type eq "work"]`, "ab"},
		{`emails[type eq "work" and value co "alice"]`, "a"},
		{`emails[type eq "home" and value ew "test.example"]`, "c"},
		{`emails[type eq "work"] and name.familyName eq "Smith"`, "a"},
		{`emails.primary eq true`, "a"},
		{`emails pr`, "abc"},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d"`, "a"},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "b"`, "a"},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr`, "a"},
		{`title eq "Engineer" or title eq "Manager" and name.givenName eq "Alice"`, "a"},
		{`(title eq "Engineer" or title eq "Manager") and name.givenName eq "Bob"`, "b"},
		{`displayName eq "Dave \"the\" Ops"`, "d"},
		{`name.familyName eq "O'Neil"`, "d"},
		{`groups.value eq "g1"`, "ab"},
		{`groups pr`, "ab"},
		{`meta.created gt "2000-01-01T00:00:00Z"`, "abcd"},
		{`meta.lastModified lt "2000-01-01T00:00:00Z"`, ""},
		{`id eq "c"`, "c"},
		// By schema (RFC 7644 §3.4.2.2) and by what every resource of the type shares.
		{`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`, "ab"},
		{`schemas ne "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`, "cd"},
		{`schemas eq "urn:ietf:params:scim:schemas:core:2.0:User"`, "abcd"},
		{`schemas eq "urn:ietf:params:scim:schemas:core:2.0:Group"`, ""},
		{`schemas pr and title pr`, "ab"},
		{`meta.resourceType eq "User"`, "abcd"},
		{`meta.resourceType eq "user"`, "abcd"},
		{`not (meta.resourceType eq "User")`, ""},
		{`meta.resourceType ne "Group" and userName sw "a"`, "a"},
	}
	for _, c := range cases {
		t.Run(c.filter, func(t *testing.T) {
			expr, err := filter.ParseFilter([]byte(c.filter))
			must(t, err)
			page, err := s.List(ctx, org, store.KindUser, store.Query{Filter: expr, Count: 100, SortBy: "id"})
			must(t, err)
			got := ""
			for _, r := range page.Resources {
				got += r.ID
			}
			if got != c.want || page.Total != len(c.want) {
				t.Fatalf("got %q (total %d), want %q", got, page.Total, c.want)
			}
		})
	}

	groupCases := []struct{ filter, want string }{
		{`displayName eq "admins"`, "g1"},
		{`members.value eq "a"`, "g1"},
		{`members[value eq "c"]`, ""},
		{`members[value eq "b" and type eq "User"]`, "g1"},
		// A value filter applies to one member (RFC 7644 §3.4.2.2), not each term to some member.
		{`members[value eq "a" and value eq "b"]`, ""},
		{`members[value eq "a" or value eq "b"]`, "g1"},
		{`members[not (value eq "a")]`, "g1"},
		{`not (members[value eq "a"])`, "g2"},
		{`members pr`, "g1"},
	}
	for _, c := range groupCases {
		t.Run("groups: "+c.filter, func(t *testing.T) {
			expr, err := filter.ParseFilter([]byte(c.filter))
			must(t, err)
			page, err := s.List(ctx, org, store.KindGroup, store.Query{Filter: expr, Count: 10})
			must(t, err)
			got := ""
			for _, r := range page.Resources {
				got += r.ID
			}
			if got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}

	invalid := []string{`active gt true`, `nosuch eq "x"`, `name eq "x"`, `userName eq true`, `meta.created gt "yesterday"`,
		`meta.version eq "W/\"1\""`, `meta.location co "Users"`, `schemas co "enterprise"`, `meta.resourceType gt "A"`}
	for _, f := range invalid {
		t.Run("refuses "+f, func(t *testing.T) {
			expr, err := filter.ParseFilter([]byte(f))
			must(t, err)
			_, err = s.List(ctx, org, store.KindUser, store.Query{Filter: expr, Count: 10})
			var fe *store.FilterError
			if !errors.As(err, &fe) {
				t.Fatalf("want a FilterError, got %v", err)
			}
		})
	}
}

func testPagination(t *testing.T, s store.Store) {
	org := newOrg()
	names := []string{"e", "c", "a", "d", "b"}
	for i, n := range names {
		must(t, s.Create(ctx, user(org, fmt.Sprintf("id%d", i), n, `{"name":{"familyName":"`+n+`"}}`), nil, store.Write{}))
	}
	list := func(q store.Query) (string, int) {
		page, err := s.List(ctx, org, store.KindUser, q)
		must(t, err)
		got := ""
		for _, r := range page.Resources {
			got += r.Name
		}
		return got, page.Total
	}
	if got, total := list(store.Query{StartIndex: 1, Count: 2}); got != "ec" || total != 5 {
		t.Fatalf("first page in creation order: %q of %d", got, total)
	}
	if got, _ := list(store.Query{StartIndex: 3, Count: 2}); got != "ad" {
		t.Fatalf("second page: %q", got)
	}
	if got, _ := list(store.Query{StartIndex: 0, Count: 1}); got != "e" {
		t.Fatalf("startIndex below 1 means 1: %q", got)
	}
	if got, total := list(store.Query{Count: 0}); got != "" || total != 5 {
		t.Fatalf("count 0 returns only the total: %q of %d", got, total)
	}
	if got, _ := list(store.Query{StartIndex: 1, Count: 10, SortBy: "userName"}); got != "abcde" {
		t.Fatalf("sorted by userName: %q", got)
	}
	if got, _ := list(store.Query{StartIndex: 1, Count: 10, SortBy: "name.familyName", SortDescending: true}); got != "edcba" {
		t.Fatalf("sorted by name.familyName descending: %q", got)
	}
	if got, _ := list(store.Query{StartIndex: 6, Count: 10}); got != "" {
		t.Fatalf("past the end: %q", got)
	}
	if _, err := s.List(ctx, org, store.KindUser, store.Query{Count: 1, SortBy: "nosuch"}); err == nil {
		t.Fatal("sorting by an unknown attribute must fail")
	}
}

// Sorting follows RFC 7644 §3.4.2.3: resources without the attribute last ascending and first
// descending; a multi-valued attribute by its primary value, else its first; a sub-attribute of
// one by the primary element's.
func testSorting(t *testing.T, s store.Store) {
	org := newOrg()
	for _, u := range []struct{ id, doc string }{
		{"1", `{"title":"b","emails":[{"value":"z@example.com","type":"work"},{"value":"a@example.com","type":"home","primary":true}],"addresses":[{"locality":"Oslo"}]}`},
		{"2", `{"title":"a","emails":[{"value":"M@example.com"}]}`},
		{"3", `{}`},
	} {
		must(t, s.Create(ctx, user(org, u.id, "user"+u.id, u.doc), nil, store.Write{}))
	}
	sorted := func(by string, descending bool) string {
		t.Helper()
		page, err := s.List(ctx, org, store.KindUser, store.Query{Count: 10, SortBy: by, SortDescending: descending})
		must(t, err)
		got := ""
		for _, r := range page.Resources {
			got += r.ID
		}
		return got
	}
	for _, c := range []struct {
		by         string
		descending bool
		want       string
	}{
		{"title", false, "213"},
		{"title", true, "312"},
		{"emails", false, "123"}, // a@ (primary), m@ (first, case folded), none
		{"emails", true, "321"},
		{"emails.value", false, "123"},
		{"emails.type", false, "123"}, // home (the primary's), none, none
		{"emails.type", true, "231"},
		{"addresses.locality", false, "123"},
	} {
		if got := sorted(c.by, c.descending); got != c.want {
			t.Errorf("sortBy=%s descending=%v: %q, want %q", c.by, c.descending, got, c.want)
		}
	}
	for _, by := range []string{"groups", "groups.display", "addresses", "name"} {
		var fe *store.FilterError
		if _, err := s.List(ctx, org, store.KindUser, store.Query{Count: 10, SortBy: by}); !errors.As(err, &fe) {
			t.Errorf("sortBy=%s: want a FilterError, got %v", by, err)
		}
	}
}

func testDeleteOrganization(t *testing.T, s store.Store) {
	org, other := newOrg(), newOrg()
	must(t, s.Create(ctx, user(org, "u1", "f", `{}`), nil, store.Write{}))
	must(t, s.Create(ctx, group(org, "g1", "G"), []string{"u1"}, store.Write{}))
	must(t, s.Create(ctx, user(other, "u1", "f", `{}`), nil, store.Write{}))
	must(t, s.DeleteOrganization(ctx, org, store.Binding{}))
	if _, err := s.Get(ctx, org, store.KindUser, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("user of the deleted organization remains: %v", err)
	}
	page, err := s.List(ctx, org, store.KindGroup, store.Query{Count: 10})
	must(t, err)
	if page.Total != 0 {
		t.Fatal("groups of the deleted organization remain")
	}
	if _, err := s.Get(ctx, other, store.KindUser, "u1"); err != nil {
		t.Fatalf("another organization lost its user: %v", err)
	}
}

func testOrganizationOwner(t *testing.T, s store.Store) {
	org := newOrg()
	var mismatch *store.ClaimMismatchError
	if owner, err := s.OrganizationOwner(ctx, org); err != nil || owner != "" {
		t.Fatalf("a new organization has owner %q (%v)", owner, err)
	}
	must(t, s.BindOrganization(ctx, org, store.Binding{Claim: "claim-1"}, ""))
	must(t, s.BindOrganization(ctx, org, store.Binding{Claim: "claim-1"}, "")) // idempotent
	must(t, s.Create(ctx, user(org, "u1", "kept", `{}`), nil, store.Write{Binding: store.Binding{Claim: "claim-1"}}))
	if err := s.BindOrganization(ctx, org, store.Binding{Claim: "claim-2"}, ""); !errors.As(err, &mismatch) || mismatch.Owner != "claim-1" {
		t.Fatalf("a second claim bound the organization: %v", err)
	}
	if err := s.BindOrganization(ctx, org, store.Binding{Claim: "claim-2"}, "claim-other"); !errors.As(err, &mismatch) {
		t.Fatalf("adopting from a claim that is not the owner bound the organization: %v", err)
	}
	if err := s.DeleteOrganization(ctx, org, store.Binding{Claim: "claim-2"}); !errors.As(err, &mismatch) {
		t.Fatalf("a claim that does not own the data deleted it: %v", err)
	}
	if _, err := s.Get(ctx, org, store.KindUser, "u1"); err != nil {
		t.Fatalf("a refused deletion lost data: %v", err)
	}
	must(t, s.BindOrganization(ctx, org, store.Binding{Claim: "claim-2"}, "claim-1")) // the explicit adoption
	if owner, _ := s.OrganizationOwner(ctx, org); owner != "claim-2" {
		t.Fatalf("after adoption the owner is %q", owner)
	}
	must(t, s.DeleteOrganization(ctx, org, store.Binding{Claim: "claim-2"}))
	if owner, _ := s.OrganizationOwner(ctx, org); owner != "" {
		t.Fatalf("deleting the organization kept its binding to %q", owner)
	}
	if _, err := s.Get(ctx, org, store.KindUser, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the owner's deletion kept data: %v", err)
	}
}

// The controller records what each integration serves (its tokens, whether it is switched off);
// every replica reads it with the bindings (tenant.BindingCheck). Only under the binding named,
// forgotten when the binding moves.
func testOrganizationTokens(t *testing.T, s store.Store) {
	org, other := newOrg(), newOrg()
	first := store.Binding{Claim: "claim-1", Integration: "integration-1"}
	must(t, s.BindOrganization(ctx, org, first, ""))
	must(t, s.BindOrganization(ctx, other, store.Binding{Claim: "claim-9", Integration: "integration-9"}, ""))
	read := func() map[string]store.BoundOrganization {
		t.Helper()
		bound, err := s.OrganizationBindings(ctx, []string{org, other, "nothing-bound"})
		if err != nil {
			t.Fatal(err)
		}
		return bound
	}
	if got := read(); got[org].Tokens != nil || got[org].Binding != first || len(got) != 2 {
		t.Fatalf("before any record: %+v", got)
	}
	before := read()[org].Version
	must(t, s.RecordServing(ctx, org, first, store.Serving{Tokens: []string{"bbbbbbbbbbbb", "aaaaaaaaaaaa"}}))
	must(t, s.RecordServing(ctx, org, first, store.Serving{Tokens: []string{"aaaaaaaaaaaa", "bbbbbbbbbbbb"}})) // the same again
	got := read()
	if !slices.Equal(got[org].Tokens, []string{"aaaaaaaaaaaa", "bbbbbbbbbbbb"}) || got[other].Tokens != nil {
		t.Fatalf("recorded: %+v", got)
	}
	// The version counts changes only: replicas refuse an unlisted token once it moved after they learned it.
	if got[org].Version != before+1 {
		t.Fatalf("the record's version went from %d to %d over one change", before, got[org].Version)
	}
	must(t, s.RecordServing(ctx, org, first, store.Serving{Tokens: []string{}}))
	if got := read(); got[org].Tokens == nil || len(got[org].Tokens) != 0 || got[org].Version != before+2 {
		t.Fatalf("an integration accepting no token is recorded as none, not as unknown, as a change: %+v", got[org])
	}
	// Another integration's pass (one not bound, or of another organization) records nothing.
	must(t, s.RecordServing(ctx, org, store.Binding{Claim: "claim-1", Integration: "integration-2"}, store.Serving{Tokens: []string{"cccccccccccc"}}))
	must(t, s.RecordServing(ctx, other, first, store.Serving{Tokens: []string{"cccccccccccc"}}))
	if got := read(); len(got[org].Tokens) != 0 || got[other].Tokens != nil {
		t.Fatalf("an unbound integration recorded tokens: %+v", got)
	}
	for _, bad := range [][]string{{"not-hex!"}, {"AAAAAAAAAAAA"}, {strings.Repeat("a", 65)}, {""}, slices.Repeat([]string{"aaaaaaaaaaaa"}, store.MaxRecordedTokens+1)} {
		if err := s.RecordServing(ctx, org, first, store.Serving{Tokens: bad}); err == nil {
			t.Fatalf("recorded %d fingerprints of up to %d characters", len(bad), len(bad[0]))
		}
	}
	// Switching the integration off is a change of the record too.
	must(t, s.RecordServing(ctx, org, first, store.Serving{Tokens: []string{}, Disabled: true}))
	if got := read(); !got[org].Disabled || got[org].Version != before+3 || got[other].Disabled {
		t.Fatalf("switched off: %+v", got)
	}
	// The binding moving to the next integration forgets what the one before served.
	must(t, s.RecordServing(ctx, org, first, store.Serving{Tokens: []string{"aaaaaaaaaaaa"}}))
	next := store.Binding{Claim: "claim-1", Integration: "integration-2"}
	recorded := read()[org].Version
	must(t, s.BindOrganization(ctx, org, next, ""))
	if got := read(); got[org].Tokens != nil || got[org].Disabled || got[org].Binding != next || got[org].Version <= recorded {
		t.Fatalf("after the binding moved: %+v (version %d before)", got[org], recorded)
	}
}

// testMembersLimit: a page of groups reads at most limit members in all, and only whole groups
// from the first (a response never carries part of a group's members).
func testMembersLimit(t *testing.T, s store.Store) {
	org := newOrg()
	users := make([]string, 0, 12)
	for i := range 12 {
		id := fmt.Sprintf("u%02d", i)
		users = append(users, id)
		must(t, s.Create(ctx, user(org, id, "user-"+id, `{}`), nil, store.Write{}))
	}
	// g1: 3 members, g2: 6, g3: 2, empty: none; given in the order g3, g1, empty, g2.
	must(t, s.Create(ctx, group(org, "g1", "One"), []string{users[5], users[0], users[9]}, store.Write{}))
	must(t, s.Create(ctx, group(org, "g2", "Two"), users[:6], store.Write{}))
	must(t, s.Create(ctx, group(org, "g3", "Three"), users[10:], store.Write{}))
	must(t, s.Create(ctx, group(org, "empty", "Empty"), nil, store.Write{}))
	order := []string{"g3", "g1", "empty", "g2"}
	for _, c := range []struct {
		limit, fit int
	}{{11, 4}, {100, 4}, {10, 3}, {5, 3}, {4, 1}, {2, 1}, {1, 0}, {0, 0}} {
		m, fit, err := s.Members(ctx, org, order, c.limit)
		must(t, err)
		if fit != c.fit {
			t.Fatalf("limit %d: %d groups fit, want %d", c.limit, fit, c.fit)
		}
		read := 0
		for i, id := range order {
			got := m[id]
			read += len(got)
			want := map[string]int{"g1": 3, "g2": 6, "g3": 2, "empty": 0}[id]
			if i >= fit {
				want = 0
			}
			if len(got) != want {
				t.Fatalf("limit %d: group %s has %d members, want %d", c.limit, id, len(got), want)
			}
			if !slices.IsSortedFunc(got, func(a, b store.Member) int { return strings.Compare(a.Value, b.Value) }) {
				t.Fatalf("limit %d: members of %s not in order: %+v", c.limit, id, got)
			}
		}
		if read > c.limit {
			t.Fatalf("limit %d: %d members returned", c.limit, read)
		}
	}
	// A user's groups likewise, in group creation order: u00 is in g1 and g2, u10 in g3.
	for _, c := range []struct {
		limit, fit int
	}{{5, 3}, {4, 2}, {3, 2}, {2, 1}, {1, 0}} {
		groups, fit, err := s.GroupsOf(ctx, org, []string{"u00", "u10", "u05"}, c.limit)
		must(t, err)
		if fit != c.fit {
			t.Fatalf("groups of users, limit %d: %d users fit, want %d", c.limit, fit, c.fit)
		}
		if fit > 0 && (len(groups["u00"]) != 2 || groups["u00"][0].Value != "g1" || groups["u00"][1].Value != "g2" ||
			groups["u00"][0].Type != store.KindGroup || groups["u00"][0].Display != "One") {
			t.Fatalf("groups of u00, limit %d: %+v", c.limit, groups["u00"])
		}
		if fit < 3 && len(groups["u05"]) != 0 {
			t.Fatalf("limit %d: groups of a user that did not fit: %+v", c.limit, groups["u05"])
		}
	}
}
