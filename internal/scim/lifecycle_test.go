package scim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// What active=false, DELETE and reactivation do to members and employee records, for every
// combination of the policy, through real SCIM requests.
func TestLifecyclePolicies(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		for _, auto := range []bool{true, false} {
			for _, onDeactivate := range []provisioning.Action{provisioning.Suspend, provisioning.Deactivate} {
				for _, onDelete := range []provisioning.Action{provisioning.Suspend, provisioning.Deactivate} {
					p := provisioning.Policy{AutoActivate: auto, OnDeactivate: onDeactivate, OnDelete: onDelete, DefaultRole: "member"}
					t.Run(fmt.Sprintf("autoActivate=%v onDeactivate=%s onDelete=%s", auto, onDeactivate, onDelete), func(t *testing.T) {
						h.setPolicy(p)
						checkLifecycle(t, h, p)
					})
				}
			}
		}
	})
}

func checkLifecycle(t *testing.T, h *harness, p provisioning.Policy) {
	ctx := context.Background()
	id := h.create(t, newUser(fmt.Sprintf("person-%d@x.example", time.Now().UnixNano()), map[string]any{
		"title": "Engineer", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"department": "R&D", "employeeNumber": "7"},
	}))
	member := func() *store.MemberRecord {
		t.Helper()
		m, err := h.st.Member(ctx, h.org, id)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	want := func(step string, state provisioning.State, employeeActive bool) {
		t.Helper()
		m := member()
		if m.Member.State != state || m.Employee.Active != employeeActive || m.Member.Role != "member" {
			t.Fatalf("%s: member %s (employee active %v, role %q), want %s (%v, member)", step, m.Member.State, m.Employee.Active, m.Member.Role, state, employeeActive)
		}
	}
	created := provisioning.Active
	if !p.AutoActivate {
		created = provisioning.PendingReview
	}
	want("created", created, true)
	if m := member(); m.Employee.Department != "R&D" || m.Employee.Title != "Engineer" || m.Employee.EmployeeNumber != "7" {
		t.Fatalf("employee record not derived from the SCIM user: %+v", m.Employee)
	}

	h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "Replace", "path": "active", "value": "False"})).want(t, 200)
	switch {
	case p.OnDeactivate == provisioning.Deactivate:
		want("active=false", provisioning.Deactivated, false)
	case !p.AutoActivate: // a pending member has no access to suspend
		want("active=false", provisioning.PendingReview, true)
	default:
		want("active=false", provisioning.Suspended, true)
	}

	h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "Replace", "path": "active", "value": "True"})).want(t, 200)
	want("reactivated", created, true)

	h.do("DELETE", "/Users/"+id, nil).want(t, 204)
	h.do("GET", "/Users/"+id, nil).wantError(t, 404, "")
	m := member()
	if !m.Member.Deleted || len(m.History) < 1 {
		t.Fatalf("after DELETE the member and its history remain: %+v", m)
	}
	switch {
	case p.OnDelete == provisioning.Deactivate:
		want("deleted", provisioning.Deactivated, false)
	case !p.AutoActivate:
		want("deleted", provisioning.PendingReview, true)
	default:
		want("deleted", provisioning.Suspended, true)
	}
}

// Each SCIM write records its request and its member transitions in the same transaction; a write
// that fails changes no member (its refusal is still recorded).
func TestAuditOfWrites(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		r := h.do("POST", "/Users", newUser("audited@x.example", map[string]any{"title": "x"}), "User-Agent", "Okta SCIM Client 1.0.0").want(t, 201)
		id := r.body["id"].(string)
		events, actions := auditTrail(t, h)
		if actions != "member.active,user.create" {
			t.Fatalf("a create records the request and the new member, newest first: %v", actions)
		}
		req := events[1]
		if req.Status != 201 || req.ResourceID != id || req.Client != "Okta SCIM Client 1.0.0" || req.TokenFingerprint == "" ||
			!strings.Contains(strings.Join(req.Attributes, ","), "title") || req.RequestID != events[0].RequestID {
			t.Fatalf("request event: %+v", req)
		}
		for _, e := range events {
			if strings.Contains(fmt.Sprint(e), tokenA) || strings.Contains(fmt.Sprint(e), "audited@x.example") {
				t.Fatalf("an audit event holds a token or a value: %+v", e)
			}
		}

		// A refused write: no member, but the refusal is in the log.
		h.do("POST", "/Users", newUser("AUDITED@x.example", nil)).wantError(t, http.StatusConflict, "uniqueness")
		counts, err := h.st.MemberCounts(ctx, h.org)
		if err != nil || counts["Active"] != 1 {
			t.Fatalf("a failed write created a member: %v %v", counts, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			events, _ = h.st.AuditEvents(ctx, h.org, store.AuditQuery{Limit: 1})
			if len(events) == 1 && events[0].Action == "user.create" && events[0].Status == 409 && events[0].ScimType == "uniqueness" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the refused create was not recorded: %+v", events)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// DryRun stores SCIM resources and logs what it would do to members, without doing it.
func TestDryRun(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		p := provisioning.DefaultPolicy
		p.DryRun = true
		h.setPolicy(p)
		id := h.create(t, newUser("dry@x.example", nil))
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": "active", "value": false})).want(t, 200)
		if _, err := h.st.Member(ctx, h.org, id); err == nil {
			t.Fatal("a dry run created a member")
		}
		if _, actions := auditTrail(t, h); actions != "member.suspended.dry-run,user.patch,member.active.dry-run,user.create" {
			t.Fatalf("dry-run audit trail: %v", actions)
		}
	})
}

// The mass-deprovisioning guard: past maxPerHour, deprovisionings are held (members keep access)
// until released, then applied in order.
func TestMassDeprovisioningGuard(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		p := provisioning.DefaultPolicy
		p.MaxDeprovisionsPerHour = 2
		h.setPolicy(p)
		var ids []string
		for i := range 4 {
			ids = append(ids, h.create(t, newUser(fmt.Sprintf("guarded-%d@x.example", i), nil)))
		}
		for _, id := range ids[:3] {
			h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": "active", "value": false})).want(t, 200)
		}
		h.do("DELETE", "/Users/"+ids[3], nil).want(t, 204)
		states := func() string {
			var out []string
			for _, id := range ids {
				m, err := h.st.Member(ctx, h.org, id)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, string(m.Member.State))
			}
			return strings.Join(out, ",")
		}
		if got := states(); got != "Suspended,Suspended,Active,Active" {
			t.Fatalf("after 4 deprovisionings with maxPerHour 2: %s", got)
		}
		if n, _ := h.st.HeldDeprovisions(ctx, h.org); n != 2 {
			t.Fatalf("held %d, want 2", n)
		}
		n, err := h.st.ReleaseDeprovisions(ctx, h.org, p, store.AuditEvent{RequestID: "release", Action: "deprovisioning.release", Status: 200, Binding: bindingOf(h.org)})
		if err != nil || n != 2 {
			t.Fatalf("released %d (%v)", n, err)
		}
		if got := states(); got != "Suspended,Suspended,Suspended,Deactivated" {
			t.Fatalf("after release: %s", got)
		}
		if n, _ := h.st.HeldDeprovisions(ctx, h.org); n != 0 {
			t.Fatalf("still held: %d", n)
		}
	})
}

// A held deactivation whose user the identity provider reactivated since is not applied by the
// release (the provider will not send it again): the guard's recovery from a false alarm
// suspended exactly the members it protected. Nothing is released in dry run.
func TestAReleaseSkipsHoldsTheIdentityProviderUndid(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		p := provisioning.DefaultPolicy
		p.MaxDeprovisionsPerHour = 1
		h.setPolicy(p)
		first, undone, kept := h.create(t, newUser("g-first@x.example", nil)), h.create(t, newUser("g-undone@x.example", nil)),
			h.create(t, newUser("g-kept@x.example", nil))
		for _, id := range []string{first, undone, kept} {
			h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": "active", "value": false})).want(t, 200)
		}
		h.do("PATCH", "/Users/"+undone, patchOps(map[string]any{"op": "replace", "path": "active", "value": true})).want(t, 200)
		release := func(p provisioning.Policy) (int, error) {
			return h.st.ReleaseDeprovisions(ctx, h.org, p, store.AuditEvent{RequestID: "release", Action: "deprovisioning.release",
				Status: 200, Binding: bindingOf(h.org)})
		}
		dry := p
		dry.DryRun = true
		if _, err := release(dry); !errors.Is(err, provisioning.ErrReleaseInDryRun) {
			t.Fatalf("a release in dry run: %v", err)
		}
		if n, _ := h.st.HeldDeprovisions(ctx, h.org); n != 2 {
			t.Fatalf("held %d after a release in dry run, want the 2 still", n)
		}
		if n, err := release(p); err != nil || n != 2 {
			t.Fatalf("released %d (%v)", n, err)
		}
		for id, want := range map[string]provisioning.State{first: provisioning.Suspended, undone: provisioning.Active, kept: provisioning.Suspended} {
			if m, err := h.st.Member(ctx, h.org, id); err != nil || m.Member.State != want {
				t.Fatalf("member %s after the release: %v (%v), want %s", id, m.Member.State, err, want)
			}
		}
	})
}

// A release applies its holds a transaction of provisioning.MembersPerTransaction at a time,
// oldest first, every one held when it was called: an incident's thousands of holds were applied
// in one transaction, holding SQLite's one writer, every organization's, for as long.
func TestAReleaseIsAppliedAPartAtATime(t *testing.T) {
	before := provisioning.MembersPerTransaction
	provisioning.MembersPerTransaction = 3
	t.Cleanup(func() { provisioning.MembersPerTransaction = before })
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		p := provisioning.DefaultPolicy
		p.MaxDeprovisionsPerHour = 1
		h.setPolicy(p)
		var ids []string
		for i := range 8 {
			id := h.create(t, newUser(fmt.Sprintf("parts-%d@x.example", i), nil))
			h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": "active", "value": false})).want(t, 200)
			ids = append(ids, id)
		}
		if n, _ := h.st.HeldDeprovisions(ctx, h.org); n != 7 {
			t.Fatalf("held %d, want 7", n)
		}
		n, err := h.st.ReleaseDeprovisions(ctx, h.org, p, store.AuditEvent{RequestID: "release", Action: "deprovisioning.release",
			Status: 200, Binding: bindingOf(h.org)})
		if err != nil || n != 7 {
			t.Fatalf("released %d (%v), want the 7 held, in three parts", n, err)
		}
		for _, id := range ids {
			if m, err := h.st.Member(ctx, h.org, id); err != nil || m.Member.State != provisioning.Suspended {
				t.Fatalf("member %s after the release: %v (%v)", id, m.Member.State, err)
			}
		}
		if n, _ := h.st.HeldDeprovisions(ctx, h.org); n != 0 {
			t.Fatalf("still held: %d", n)
		}
		// Each part records the release as far as it went: an interrupted one is audited too.
		events, err := h.st.AuditEvents(ctx, h.org, store.AuditQuery{Action: "deprovisioning.release"})
		if err != nil || len(events) != 3 || events[0].Detail != "Released 7 held deprovisionings" ||
			events[2].Detail != "Released 3 held deprovisionings so far" {
			t.Fatalf("the release's audit: %+v (%v)", events, err)
		}
	})
}

// Approving a member waiting for review whose user the identity provider deactivated meanwhile
// (under Suspend nothing was recorded: a pending member has no access to suspend) records the
// approval and leaves it suspended; the provider's reactivation makes it active. It was made
// active, with access the provider had taken away.
func TestApprovingADeactivatedUserLeavesItSuspended(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		p := provisioning.DefaultPolicy
		p.AutoActivate = false
		h.setPolicy(p)
		id := h.create(t, newUser("pending-off@x.example", nil))
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": "active", "value": false})).want(t, 200)
		state := func() provisioning.State {
			m, err := h.st.Member(ctx, h.org, id)
			if err != nil {
				t.Fatal(err)
			}
			return m.Member.State
		}
		if _, err := h.st.ReviewMember(ctx, h.org, id, true, store.AuditEvent{RequestID: "a", Action: "member.approve", Status: 200,
			Binding: bindingOf(h.org)}); err != nil {
			t.Fatal(err)
		}
		if got := state(); got != provisioning.Suspended {
			t.Fatalf("approved while deactivated: %s, want Suspended", got)
		}
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": "active", "value": true})).want(t, 200)
		if got := state(); got != provisioning.Active {
			t.Fatalf("reactivated after approval: %s, want Active", got)
		}
	})
}

// Group→role mappings: the first mapping whose group the member is in wins; roles follow
// membership, renames and group deletion.
func TestGroupRoles(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		p := provisioning.DefaultPolicy
		p.DefaultRole = "member"
		p.GroupRoles = []provisioning.GroupRole{{Group: "Admins", Role: "admin"}, {Group: "eng-ext-id", Role: "engineer"}}
		h.setPolicy(p)
		id := h.create(t, newUser("roles@x.example", nil))
		role := func() string {
			m, err := h.st.Member(ctx, h.org, id)
			if err != nil {
				t.Fatal(err)
			}
			return m.Member.Role
		}
		if r := role(); r != "member" {
			t.Fatalf("a new member gets the default role, got %q", r)
		}
		eng := h.do("POST", "/Groups", map[string]any{"displayName": "Engineering", "externalId": "eng-ext-id",
			"members": []any{map[string]any{"value": id}}}).want(t, 201).body["id"].(string)
		if r := role(); r != "engineer" {
			t.Fatalf("joining a group mapped by externalId: %q", r)
		}
		admins := h.do("POST", "/Groups", map[string]any{"displayName": "Other"}).want(t, 201).body["id"].(string)
		h.do("PATCH", "/Groups/"+admins, patchOps(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": id}}})).want(t, 204)
		if r := role(); r != "engineer" {
			t.Fatalf("an unmapped group changes nothing: %q", r)
		}
		h.do("PATCH", "/Groups/"+admins, patchOps(map[string]any{"op": "replace", "path": "displayName", "value": "ADMINS"})).want(t, 204)
		if r := role(); r != "admin" {
			t.Fatalf("a rename onto a mapped name (case-insensitive), first mapping wins: %q", r)
		}
		h.do("PATCH", "/Groups/"+admins, patchOps(map[string]any{"op": "remove", "path": "members[value eq \"" + id + "\"]"})).want(t, 204)
		if r := role(); r != "engineer" {
			t.Fatalf("leaving the admins: %q", r)
		}
		h.do("DELETE", "/Groups/"+eng, nil).want(t, 204)
		if r := role(); r != "member" {
			t.Fatalf("deleting the group returns the default role: %q", r)
		}
	})
}

// A rename recomputes the roles of a group's members only when it changes which mappings name the
// group: other renames, of however large a group, read none of them. The members a write adds or
// removes are recomputed whatever the group, so a role whose mapping was since removed goes when
// its group is left. (An edited mapping otherwise applies at a member's next such change, which
// is what lets this test see which writes recompute.)
func TestRenamesMoveRolesOnlyWhenTheyChangeMappings(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		p := provisioning.DefaultPolicy
		p.DefaultRole = "member"
		h.setPolicy(p)
		id := h.create(t, newUser("late@x.example", nil))
		role := func() string {
			m, err := h.st.Member(ctx, h.org, id)
			if err != nil {
				t.Fatal(err)
			}
			return m.Member.Role
		}
		group := func(name string) string {
			return h.do("POST", "/Groups", map[string]any{"displayName": name, "members": []any{map[string]any{"value": id}}}).
				want(t, 201).body["id"].(string)
		}
		rename := func(group, name string) {
			h.do("PATCH", "/Groups/"+group, patchOps(map[string]any{"op": "replace", "path": "displayName", "value": name})).want(t, 204)
		}
		admins, other := group("Admins"), group("Other")
		p.GroupRoles = []provisioning.GroupRole{{Group: "Admins", Role: "admin"}}
		h.setPolicy(p)
		rename(other, "Still other")
		rename(admins, "ADMINS")
		if r := role(); r != "member" {
			t.Fatalf("renames that change no mapping recomputed the role: %q", r)
		}
		rename(admins, "Former admins")
		rename(admins, "Admins")
		if r := role(); r != "admin" {
			t.Fatalf("a rename onto a mapped name recomputes its members' roles: %q", r)
		}
		p.GroupRoles = []provisioning.GroupRole{{Group: "Engineering", Role: "engineer"}}
		h.setPolicy(p)
		h.do("PATCH", "/Groups/"+admins, patchOps(map[string]any{"op": "remove", "path": "members[value eq \"" + id + "\"]"})).want(t, 204)
		if r := role(); r != "member" {
			t.Fatalf("leaving a group whose mapping was removed keeps its role: %q", r)
		}
	})
}

// SCIM never takes over a member it did not create: a userName held by such a member is refused
// with 409 and a clear detail, and the refusal is audited.
func TestNoTakeoverOfMembersNotCreatedBySCIM(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		db := h.st.(*sqlstore.Store).DB()
		if _, err := db.ExecContext(context.Background(), `INSERT INTO members (org, user_id, user_name, user_name_lower, state, role, approved,
			scim_deleted, created_us, modified_us, source) VALUES ('`+h.org+`', 'invited-1', 'Boss@x.example', 'boss@x.example', 'Active',
			'owner', TRUE, FALSE, 0, 0, 'invitation')`); err != nil {
			t.Fatal(err)
		}
		r := h.do("POST", "/Users", newUser("BOSS@x.example", nil))
		r.wantError(t, http.StatusConflict, "uniqueness")
		if !strings.Contains(r.body["detail"].(string), "not created by SCIM") {
			t.Fatalf("detail: %v", r.body["detail"])
		}
		m, err := h.st.Member(context.Background(), h.org, "invited-1")
		if err == nil && m.Member.Role != "owner" {
			t.Fatalf("the existing member changed: %+v", m)
		}
		h.create(t, newUser("someone-else@x.example", nil)) // other userNames are fine
	})
}

// auditTrail is the organization's latest audit events and their actions, newest first.
func auditTrail(t *testing.T, h *harness) ([]store.AuditEvent, string) {
	t.Helper()
	events, err := h.st.AuditEvents(context.Background(), h.org, store.AuditQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	actions := make([]string, 0, len(events))
	for _, e := range events {
		actions = append(actions, e.Action)
	}
	return events, strings.Join(actions, ",")
}
