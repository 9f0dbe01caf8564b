package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Options are what a backend provides that the store interface does not.
type Options struct {
	// AddInvitedMember stores a member that SCIM did not create (as an invitation would).
	AddInvitedMember func(ctx context.Context, org, userID, userName string) error
}

// RunProvisioning runs the lifecycle part of the suite: provisioning decisions persisted by the
// store, with their history, audit rows and events.
func RunProvisioning(t *testing.T, s store.Store, o Options) {
	t.Run("every policy combination persists what provisioning decides", func(t *testing.T) { testPolicyMatrix(t, s) })
	t.Run("the guard holds deprovisionings past its limit and release applies them", func(t *testing.T) { testGuard(t, s) })
	t.Run("review records approval and rejection as events", func(t *testing.T) { testReviewEvents(t, s) })
	t.Run("group mappings give roles and follow membership", func(t *testing.T) { testGroupRoles(t, s) })
	t.Run("SCIM never takes over a member it did not create", func(t *testing.T) { testTakeover(t, s, o) })
	t.Run("events are numbered per organization without gaps", func(t *testing.T) { testEventSequence(t, s) })
	t.Run("dry run records decisions, applies and emits nothing", func(t *testing.T) { testDryRun(t, s) })
	t.Run("the activity mark moves with every audit row and aggregate", func(t *testing.T) { testActivityMark(t, s) })
}

// setActive is an Update callback that sets active.
func setActive(active bool) func(*store.Resource) (*store.Change, error) {
	return func(cur *store.Resource) (*store.Change, error) {
		next := *cur
		next.Active = active
		return &store.Change{Resource: &next}, nil
	}
}

func writeOf(p *provisioning.Policy, requestID string) store.Write {
	return store.Write{Policy: p, Audit: &store.AuditEvent{RequestID: requestID, Action: requestID, Status: 200, TokenFingerprint: "fp1"}}
}

// eventTypes lists an organization's event types in sequence order, checking the numbering.
func eventTypes(t *testing.T, s store.Store, org string) []string {
	t.Helper()
	events, err := s.Events(ctx, org, 0, 1000)
	must(t, err)
	out := make([]string, 0, len(events))
	for i, e := range events {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has sequence number %d: %+v", i+1, e.Seq, events)
		}
		out = append(out, string(e.Event.Type))
	}
	return out
}

func testPolicyMatrix(t *testing.T, s store.Store) {
	for _, auto := range []bool{true, false} {
		for _, onDeactivate := range []provisioning.Action{provisioning.Suspend, provisioning.Deactivate} {
			for _, onDelete := range []provisioning.Action{provisioning.Suspend, provisioning.Deactivate} {
				p := provisioning.Policy{AutoActivate: auto, OnDeactivate: onDeactivate, OnDelete: onDelete, DefaultRole: "member"}
				t.Run(fmt.Sprintf("auto=%v deactivate=%s delete=%s", auto, onDeactivate, onDelete), func(t *testing.T) {
					org := newOrg()
					// The oracle: the same triggers through the decision functions alone.
					var want *provisioning.Member
					step := func(trigger provisioning.Trigger, write func() error) {
						t.Helper()
						must(t, write())
						next, _ := provisioning.Decide(p, want, trigger)
						want = &next
						got, err := s.Member(ctx, org, "u1")
						must(t, err)
						if got.Member != *want || got.Employee.Active != want.EmployeeActive {
							t.Fatalf("after %s: stored %+v (employee active %v), decided %+v", trigger, got.Member, got.Employee.Active, *want)
						}
					}
					step(provisioning.UserCreated, func() error { return s.Create(ctx, user(org, "u1", "ada", `{}`), nil, writeOf(&p, "c")) })
					step(provisioning.UserDeactivated, func() error {
						_, err := Update(ctx, s, org, store.KindUser, "u1", 0, setActive(false), writeOf(&p, "d"))
						return err
					})
					step(provisioning.UserReactivated, func() error {
						_, err := Update(ctx, s, org, store.KindUser, "u1", 0, setActive(true), writeOf(&p, "r"))
						return err
					})
					step(provisioning.UserDeleted, func() error { return s.Delete(ctx, org, store.KindUser, "u1", 0, writeOf(&p, "x")) })
					rec, err := s.Member(ctx, org, "u1")
					must(t, err)
					for _, h := range rec.History {
						if h.Kind == "" || !strings.HasPrefix(string(h.Kind), "member.") {
							t.Fatalf("history entry without a kind: %+v", h)
						}
					}
				})
			}
		}
	}
}

func testGuard(t *testing.T, s store.Store) {
	org := newOrg()
	p := provisioning.Policy{AutoActivate: true, OnDeactivate: provisioning.Suspend, OnDelete: provisioning.Deactivate, DefaultRole: "member",
		MaxDeprovisionsPerHour: 2}
	for i := range 4 {
		must(t, s.Create(ctx, user(org, fmt.Sprintf("u%d", i), fmt.Sprintf("user%d", i), `{}`), nil, writeOf(&p, "c")))
	}
	for i := range 3 {
		_, err := Update(ctx, s, org, store.KindUser, fmt.Sprintf("u%d", i), 0, setActive(false), writeOf(&p, "d"))
		must(t, err)
	}
	must(t, s.Delete(ctx, org, store.KindUser, "u3", 0, writeOf(&p, "x")))
	counts, err := s.MemberCounts(ctx, org)
	must(t, err)
	held, err := s.HeldDeprovisions(ctx, org)
	must(t, err)
	if counts["Suspended"] != 2 || counts["Active"] != 2 || held != 2 {
		t.Fatalf("guard at 2 per hour: counts %v, held %d", counts, held)
	}
	// Rewording what people read changes nothing: the guard counts typed history.
	n, err := s.ReleaseDeprovisions(ctx, org, p, store.AuditEvent{RequestID: "rel", Action: "deprovisioning.release", Status: 200, Client: "admin:ann"})
	must(t, err)
	held, _ = s.HeldDeprovisions(ctx, org)
	counts, _ = s.MemberCounts(ctx, org)
	if n != 2 || held != 0 || counts["Suspended"] != 3 || counts["Deactivated"] != 1 {
		t.Fatalf("release: %d released, %d held, counts %v", n, held, counts)
	}
	rec, err := s.Member(ctx, org, "u3")
	must(t, err)
	if !rec.Member.Deleted || rec.Employee.Active {
		t.Fatalf("a held deletion is applied as a deletion: %+v", rec)
	}
	types := eventTypes(t, s, org)
	if got := strings.Join(types[4:], ","); got != "member.suspended,member.suspended,deprovision.held,deprovision.held,"+
		"deprovision.released,member.suspended,deprovision.released,member.deactivated" {
		t.Fatalf("events: %s", got)
	}
	events, _ := s.Events(ctx, org, 0, 1000)
	if last := events[len(events)-1]; last.Actor != "admin:ann" || last.RequestID != "rel" {
		t.Fatalf("release events name the admin: %+v", last)
	}
}

func testReviewEvents(t *testing.T, s store.Store) {
	org := newOrg()
	p := provisioning.Policy{OnDeactivate: provisioning.Suspend, OnDelete: provisioning.Deactivate, DefaultRole: "member"}
	must(t, s.Create(ctx, user(org, "u1", "ada", `{}`), nil, writeOf(&p, "c1")))
	must(t, s.Create(ctx, user(org, "u2", "bob", `{}`), nil, writeOf(&p, "c2")))
	_, err := s.ReviewMember(ctx, org, "u1", true, store.AuditEvent{RequestID: "a", Action: "member.approve", Client: "admin:ann", Status: 200})
	must(t, err)
	_, err = s.ReviewMember(ctx, org, "u2", false, store.AuditEvent{RequestID: "b", Action: "member.reject", Client: "admin:ann", Status: 200})
	must(t, err)
	// Approving again changes nothing and emits nothing.
	_, err = s.ReviewMember(ctx, org, "u1", true, store.AuditEvent{RequestID: "c", Action: "member.approve", Client: "admin:ann", Status: 200})
	must(t, err)
	if got := strings.Join(eventTypes(t, s, org), ","); got != "member.provisioned,member.provisioned,member.approved,member.rejected" {
		t.Fatalf("events: %s", got)
	}
	rec, err := s.Member(ctx, org, "u2")
	must(t, err)
	if last := rec.History[len(rec.History)-1]; last.Kind != provisioning.MemberRejected || last.To != provisioning.Deactivated {
		t.Fatalf("history: %+v", rec.History)
	}
}

func testGroupRoles(t *testing.T, s store.Store) {
	org := newOrg()
	p := provisioning.Policy{AutoActivate: true, OnDeactivate: provisioning.Suspend, OnDelete: provisioning.Deactivate, DefaultRole: "member",
		GroupRoles: []provisioning.GroupRole{{Group: "admins", Role: "admin"}, {Group: "ext-eng", Role: "engineer"}}}
	for _, id := range []string{"u1", "u2", "u3"} {
		must(t, s.Create(ctx, user(org, id, "name-"+id, `{}`), nil, writeOf(&p, "c")))
	}
	role := func(id string) string {
		t.Helper()
		rec, err := s.Member(ctx, org, id)
		must(t, err)
		return rec.Member.Role
	}
	g := group(org, "g1", "Admins")
	must(t, s.Create(ctx, g, []string{"u1"}, writeOf(&p, "g")))
	eng := group(org, "g2", "Engineering")
	eng.ExternalID = "ext-eng"
	must(t, s.Create(ctx, eng, []string{"u1", "u2"}, writeOf(&p, "g")))
	if role("u1") != "admin" || role("u2") != "engineer" || role("u3") != "member" {
		t.Fatalf("roles: %s %s %s", role("u1"), role("u2"), role("u3"))
	}
	_, err := Update(ctx, s, org, store.KindGroup, "g1", 0, func(*store.Resource) (*store.Change, error) {
		return &store.Change{Members: &store.MemberChange{Replace: true, Add: []string{"u2", "u3"}}}, nil
	}, writeOf(&p, "replace"))
	must(t, err)
	if role("u1") != "engineer" || role("u2") != "admin" || role("u3") != "admin" {
		t.Fatalf("after replacing the admins: %s %s %s", role("u1"), role("u2"), role("u3"))
	}
	_, err = Update(ctx, s, org, store.KindGroup, "g1", 0, func(cur *store.Resource) (*store.Change, error) {
		next := *cur
		next.Name = "Former admins"
		return &store.Change{Resource: &next}, nil
	}, writeOf(&p, "rename"))
	must(t, err)
	if role("u2") != "engineer" || role("u3") != "member" {
		t.Fatalf("after renaming the group: %s %s", role("u2"), role("u3"))
	}
	must(t, s.Delete(ctx, org, store.KindGroup, "g2", 0, writeOf(&p, "delete")))
	if role("u1") != "member" || role("u2") != "member" {
		t.Fatalf("after deleting the mapped group: %s %s", role("u1"), role("u2"))
	}
	events, err := s.Events(ctx, org, 3, 1000)
	must(t, err)
	var summary []string
	for _, e := range events {
		if e.Event.Type == provisioning.MemberRoleChanged {
			summary = append(summary, e.Event.Subject+":"+e.Event.PreviousRole+">"+e.Event.Role)
		}
		if e.Event.Type == provisioning.MembershipRemoved && e.RequestID == "replace" {
			summary = append(summary, "removed:"+e.Event.Subject)
		}
	}
	want := []string{"u1:member>admin", "u2:member>engineer", "removed:u1", "u1:admin>engineer", "u2:engineer>admin", "u3:member>admin",
		"u2:admin>engineer", "u3:admin>member", "u1:engineer>member", "u2:engineer>member"}
	if !slices.Equal(summary, want) {
		t.Fatalf("role events:\n got %v\nwant %v", summary, want)
	}
}

func testTakeover(t *testing.T, s store.Store, o Options) {
	if o.AddInvitedMember == nil {
		t.Skip("the backend cannot store members SCIM did not create")
	}
	org := newOrg()
	p := provisioning.DefaultPolicy
	must(t, o.AddInvitedMember(ctx, org, "invited-1", "Boss@x.example"))
	err := s.Create(ctx, user(org, "u1", "BOSS@x.example", `{}`), nil, writeOf(&p, "c"))
	if !errors.Is(err, store.ErrTakeover) {
		t.Fatalf("creating a user named like an invited member: %v", err)
	}
	if _, err := s.Get(ctx, org, store.KindUser, "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused user was stored: %v", err)
	}
	if types := eventTypes(t, s, org); len(types) != 0 {
		t.Fatalf("a refused write emitted events: %v", types)
	}
	must(t, s.Create(ctx, user(org, "u2", "someone-else@x.example", `{}`), nil, writeOf(&p, "c")))
}

func testEventSequence(t *testing.T, s store.Store) {
	org, other := newOrg(), newOrg()
	p := provisioning.DefaultPolicy
	p.DefaultRole = "member"
	must(t, s.Create(ctx, user(org, "u1", "ada", `{"title":"Engineer"}`), nil, writeOf(&p, "c1")))
	must(t, s.Create(ctx, user(other, "u1", "ada", `{}`), nil, writeOf(&p, "o1")))
	// A failed write takes no number.
	boom := errors.New("boom")
	if _, err := Update(ctx, s, org, store.KindUser, "u1", 0, func(*store.Resource) (*store.Change, error) { return nil, boom }, writeOf(&p, "f")); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	_, err := Update(ctx, s, org, store.KindUser, "u1", 0, func(cur *store.Resource) (*store.Change, error) {
		next := *cur
		next.Doc = []byte(`{"title":"Staff Engineer"}`)
		return &store.Change{Resource: &next}, nil
	}, writeOf(&p, "u"))
	must(t, err)
	must(t, s.Create(ctx, group(org, "g1", "Team"), []string{"u1"}, writeOf(&p, "g")))
	_, err = Update(ctx, s, org, store.KindUser, "u1", 0, setActive(false), writeOf(&p, "d"))
	must(t, err)
	_, err = Update(ctx, s, org, store.KindUser, "u1", 0, setActive(true), writeOf(&p, "r"))
	must(t, err)
	must(t, s.Delete(ctx, org, store.KindUser, "u1", 0, writeOf(&p, "x")))
	got := strings.Join(eventTypes(t, s, org), ",")
	want := "member.provisioned,member.updated,group.created,membership.added,member.suspended,member.reactivated,member.deactivated,membership.removed"
	if got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	if types := eventTypes(t, s, other); len(types) != 1 {
		t.Fatalf("the other organization numbers its own events: %v", types)
	}
	events, err := s.Events(ctx, org, 4, 2)
	must(t, err)
	if len(events) != 2 || events[0].Seq != 5 || events[0].Event.From != provisioning.Active || events[0].Event.To != provisioning.Suspended ||
		events[0].Event.Trigger != provisioning.UserDeactivated || events[0].Actor != "token:fp1" || events[0].RequestID != "d" {
		t.Fatalf("a page after 4: %+v", events)
	}
}

func testDryRun(t *testing.T, s store.Store) {
	org := newOrg()
	live := provisioning.DefaultPolicy
	must(t, s.Create(ctx, user(org, "u1", "ada", `{}`), nil, writeOf(&live, "c")))
	dry := live
	dry.DryRun = true
	_, err := Update(ctx, s, org, store.KindUser, "u1", 0, setActive(false), writeOf(&dry, "d"))
	must(t, err)
	rec, err := s.Member(ctx, org, "u1")
	must(t, err)
	if rec.Member.State != provisioning.Active {
		t.Fatalf("dry run applied: %+v", rec.Member)
	}
	if got := strings.Join(eventTypes(t, s, org), ","); got != "member.provisioned" {
		t.Fatalf("dry run emitted events: %s", got)
	}
	audit, err := s.AuditEvents(ctx, org, store.AuditQuery{Limit: 1})
	must(t, err)
	if len(audit) != 1 || audit[0].Action != "member.suspended.dry-run" {
		t.Fatalf("dry run is audited: %+v", audit)
	}
}

func testActivityMark(t *testing.T, s store.Store) {
	org := newOrg()
	mark := func() store.ActivityMark {
		t.Helper()
		m, err := s.ActivityMark(ctx, org)
		must(t, err)
		return m
	}
	if m := mark(); m != (store.ActivityMark{}) {
		t.Fatalf("an organization without events has mark %+v", m)
	}
	p := provisioning.DefaultPolicy
	must(t, s.Create(ctx, user(org, "u1", "ada", `{}`), nil, writeOf(&p, "c")))
	afterWrite := mark()
	if afterWrite.Seq == 0 {
		t.Fatal("a write does not move the mark")
	}
	if _, err := s.Get(ctx, org, store.KindUser, "u1"); err != nil || mark() != afterWrite {
		t.Fatalf("a read without an audit event moved the mark (%v)", err)
	}
	refusal := func(at time.Time) store.Refusal {
		return store.Refusal{Key: "401/10.0.0.1/minute", Event: store.AuditEvent{Org: org, RequestID: "r", Action: "auth.refused", Status: 401, Time: at}}
	}
	now := time.Now().UTC()
	must(t, s.RecordRefusals(ctx, []store.Refusal{refusal(now)}))
	afterRefusal := mark()
	must(t, s.RecordRefusals(ctx, []store.Refusal{refusal(now.Add(time.Second))}))
	if again := mark(); again == afterRefusal || again.Seq != afterRefusal.Seq {
		t.Fatalf("a refusal counted into its aggregate: mark %+v, before %+v", again, afterRefusal)
	}
}
