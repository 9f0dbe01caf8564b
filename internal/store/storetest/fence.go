package storetest

import (
	"errors"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// testWritesFollowTheOwner: a write lands only under the binding of the organization (the claim
// owning its data and the integration serving it), so a request authenticated just before its
// organization was deleted or re-bound writes nothing the organization's next owner, or its next
// integration, could find (decision 0020).
func testWritesFollowTheOwner(t *testing.T, s store.Store) {
	org := newOrg()
	p := provisioning.DefaultPolicy
	bindings := map[string]store.Binding{
		"claim-1": {Claim: "claim-1", Integration: "integration-1"},
		"claim-2": {Claim: "claim-2", Integration: "integration-2"},
		"":        {},
	}
	under := func(claim, request string) store.Write {
		w := writeOf(&p, request)
		w.Binding, w.Audit.Binding = bindings[claim], bindings[claim]
		return w
	}
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrOrganizationReleased) {
			t.Fatalf("%s: %v, want ErrOrganizationReleased", what, err)
		}
	}
	must(t, s.BindOrganization(ctx, org, bindings["claim-1"], ""))
	must(t, s.Create(ctx, user(org, "u1", "ada", `{}`), nil, under("claim-1", "create-u1")))
	must(t, s.Create(ctx, group(org, "g1", "Staff"), []string{"u1"}, under("claim-1", "create-g1")))
	before := eventTypes(t, s, org)

	// Under another claim, or none, nothing lands: creates, updates, deletes, reviews, releases.
	for _, claim := range []string{"claim-2", ""} {
		refused("create under "+claim, s.Create(ctx, user(org, "u2", "bob", `{}`), nil, under(claim, "create-u2")))
		refused("group create under "+claim, s.Create(ctx, group(org, "g2", "Other"), []string{"u1"}, under(claim, "create-g2")))
		_, err := Update(ctx, s, org, store.KindUser, "u1", 0, setActive(false), under(claim, "deactivate-u1"))
		refused("update under "+claim, err)
		_, err = Update(ctx, s, org, store.KindUser, "u1", 0, func(*store.Resource) (*store.Change, error) { return nil, nil }, under(claim, "no-op"))
		refused("an update changing nothing under "+claim, err)
		refused("delete under "+claim, s.Delete(ctx, org, store.KindGroup, "g1", 0, under(claim, "delete-g1")))
		_, err = s.ReviewMember(ctx, org, "u1", true, store.AuditEvent{RequestID: "review", Action: "member.approve", Binding: bindings[claim]})
		refused("review under "+claim, err)
		_, err = s.ReleaseDeprovisions(ctx, org, p, store.AuditEvent{RequestID: "release", Action: "deprovisioning.release", Binding: bindings[claim]})
		refused("release under "+claim, err)
	}
	if _, err := s.Get(ctx, org, store.KindUser, "u2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused create stored its user: %v", err)
	}
	if u, err := s.Get(ctx, org, store.KindUser, "u1"); err != nil || !u.Active {
		t.Fatalf("a refused update changed the user: %+v %v", u, err)
	}
	if _, err := s.Get(ctx, org, store.KindGroup, "g1"); err != nil {
		t.Fatalf("a refused delete removed the group: %v", err)
	}
	if after := eventTypes(t, s, org); len(after) != len(before) {
		t.Fatalf("refused writes emitted events: %v, before %v", after, before)
	}

	// Read audit events are recorded under their claim only.
	must(t, s.RecordAudit(ctx, []store.AuditEvent{
		{Org: org, RequestID: "read-1", Action: "users.list", Status: 200, Binding: bindings["claim-1"]},
		{Org: org, RequestID: "read-2", Action: "users.list", Status: 200, Binding: bindings["claim-2"]},
	}))
	audit, err := s.AuditEvents(ctx, org, store.AuditQuery{Limit: 100})
	must(t, err)
	for _, e := range audit {
		switch e.RequestID {
		case "read-2", "create-u2", "create-g2", "deactivate-u1", "no-op", "delete-g1", "review", "release":
			t.Fatalf("a refused request left its audit event: %+v", e)
		}
	}
	if len(audit) == 0 || audit[0].RequestID != "read-1" {
		t.Fatalf("the owner's read was not recorded: %+v", audit)
	}

	// Adopted by another claim: the old one's writes are refused, the new one's land.
	must(t, s.BindOrganization(ctx, org, bindings["claim-2"], "claim-1"))
	refused("create under the adopted claim", s.Create(ctx, user(org, "u3", "cy", `{}`), nil, under("claim-1", "create-u3")))
	must(t, s.Create(ctx, user(org, "u3", "cy", `{}`), nil, under("claim-2", "create-u3")))

	// Deleted: the last owner's writes find nothing to write into, and leave nothing.
	must(t, s.DeleteOrganization(ctx, org, store.Binding{Claim: "claim-2"}))
	refused("create after the deletion", s.Create(ctx, user(org, "u4", "dee", `{}`), nil, under("claim-2", "create-u4")))
	must(t, s.RecordAudit(ctx, []store.AuditEvent{{Org: org, RequestID: "late-read", Action: "users.list", Status: 200, Binding: bindings["claim-2"]}}))
	if page, err := s.List(ctx, org, store.KindUser, store.Query{Count: 10}); err != nil || page.Total != 0 {
		t.Fatalf("a write after the deletion left users: %+v %v", page, err)
	}
	if audit, err := s.AuditEvents(ctx, org, store.AuditQuery{Limit: 10}); err != nil || len(audit) != 0 {
		t.Fatalf("a request after the deletion left audit events: %+v %v", audit, err)
	}
	if events, err := s.Events(ctx, org, 0, 10); err != nil || len(events) != 0 {
		t.Fatalf("a write after the deletion left events: %+v %v", events, err)
	}

	// Bound again by the same claim, served by a new integration (the one before was deleted with
	// its data): a write of the deleted integration still finds nothing to write into.
	again := store.Binding{Claim: "claim-2", Integration: "integration-3"}
	must(t, s.BindOrganization(ctx, org, again, ""))
	refused("create of the integration before", s.Create(ctx, user(org, "u5", "eve", `{}`), nil, under("claim-2", "create-u5")))
	w := under("claim-2", "create-u5")
	w.Binding = again
	must(t, s.Create(ctx, user(org, "u5", "eve", `{}`), nil, w))
	if b, err := s.OrganizationBinding(ctx, org); err != nil || b != again {
		t.Fatalf("the binding is %+v (%v), want %+v", b, err, again)
	}
	// The organization an integration serves, found by its UID (UIDs of this test's own: other
	// tests share the database).
	served := newOrg()
	servedBy := store.Binding{Claim: "claim-1", Integration: "integration-of-" + served}
	must(t, s.BindOrganization(ctx, served, servedBy, ""))
	if bound, err := s.OrganizationBoundTo(ctx, servedBy.Integration); err != nil || bound != served {
		t.Fatalf("the organization bound to %s is %q (%v), want %s", servedBy.Integration, bound, err, served)
	}
	// An identity re-created with another organization: its integration binds that one too, and
	// which of the two it served is not the store's to say.
	second := newOrg()
	must(t, s.BindOrganization(ctx, second, servedBy, ""))
	if bound, err := s.OrganizationBoundTo(ctx, servedBy.Integration); err != nil || bound != "" {
		t.Fatalf("an integration bound to two organizations is bound to %q (%v), want none", bound, err)
	}
	must(t, s.DeleteOrganization(ctx, second, servedBy))
	must(t, s.BindOrganization(ctx, served, store.Binding{Claim: "claim-1", Integration: "next-of-" + served}, ""))
	if bound, err := s.OrganizationBoundTo(ctx, servedBy.Integration); err != nil || bound != "" {
		t.Fatalf("an integration bound to nothing now is bound to %q (%v)", bound, err)
	}

	// An integration's deletion does not take the data its successor of the same claim serves:
	// nothing is deleted, and the successor goes on writing.
	deletedIntegration := store.Binding{Claim: "claim-2", Integration: "integration-2"}
	var elsewhere *store.ServedElsewhereError
	if err := s.DeleteOrganization(ctx, org, deletedIntegration); !errors.As(err, &elsewhere) || elsewhere.Integration != again.Integration {
		t.Fatalf("deleting as a predecessor of the serving integration: %v, want a ServedElsewhereError naming %s", err, again.Integration)
	}
	w = under("claim-2", "create-u6")
	w.Binding = again
	must(t, s.Create(ctx, user(org, "u6", "fay", `{}`), nil, w))
	if page, err := s.List(ctx, org, store.KindUser, store.Query{Count: 10}); err != nil || page.Total != 2 {
		t.Fatalf("the successor's users after its predecessor's deletion: %+v %v, want u5 and u6", page, err)
	}
	// Its own deletion deletes.
	must(t, s.DeleteOrganization(ctx, org, again))
	if page, err := s.List(ctx, org, store.KindUser, store.Query{Count: 10}); err != nil || page.Total != 0 {
		t.Fatalf("the serving integration's deletion left users: %+v %v", page, err)
	}

	// A binding recorded without an integration (before integrations were recorded) takes any
	// integration of its claim, until the claim's integration binds.
	legacy := newOrg()
	must(t, s.BindOrganization(ctx, legacy, store.Binding{Claim: "claim-1"}, ""))
	must(t, s.Create(ctx, user(legacy, "u1", "ada", `{}`), nil, under("claim-1", "create-legacy")))
	refused("create of another claim in a legacy binding", s.Create(ctx, user(legacy, "u2", "bob", `{}`), nil, under("claim-2", "create-legacy-2")))
	// Any integration of the claim may delete it, as any may write to it.
	must(t, s.DeleteOrganization(ctx, legacy, store.Binding{Claim: "claim-1", Integration: "integration-9"}))
	if page, err := s.List(ctx, legacy, store.KindUser, store.Query{Count: 10}); err != nil || page.Total != 0 {
		t.Fatalf("deleting a legacy binding left users: %+v %v", page, err)
	}
}
