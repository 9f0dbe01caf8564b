package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// rowsOf counts an organization's rows in the tables a deletion empties.
func rowsOf(t *testing.T, s *sqlstore.Store, org string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range sqlstore.OrganizationTables(s) {
		var n int
		if err := s.DB().QueryRowContext(context.Background(), s.Rebind(`SELECT COUNT(*) FROM `+table+` WHERE org = ?`), org).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			out[table] = n
		}
	}
	return out
}

// boundOrganization makes an organization bound to b with n users (each with its member,
// record, history, event and audit event) and a group of them.
func boundOrganization(t *testing.T, s *sqlstore.Store, prefix string, b store.Binding, n int) string {
	t.Helper()
	ctx := context.Background()
	org := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	if err := s.BindOrganization(ctx, org, b, ""); err != nil {
		t.Fatal(err)
	}
	p := provisioning.DefaultPolicy
	var ids []string
	for i := range n {
		now := time.Now().UTC().Truncate(time.Microsecond)
		r := &store.Resource{Org: org, Kind: store.KindUser, ID: fmt.Sprintf("u%d", i), Name: fmt.Sprintf("user%d", i), Active: true,
			Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
		audit := &store.AuditEvent{RequestID: "r", Action: "user.create", Status: 201, Time: now}
		if err := s.Create(ctx, r, nil, store.Write{Policy: &p, Audit: audit, Binding: b}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	g := &store.Resource{Org: org, Kind: store.KindGroup, ID: "g1", Name: "Team", Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
	if err := s.Create(ctx, g, ids, store.Write{Policy: &p, Binding: b}); err != nil {
		t.Fatal(err)
	}
	return org
}

// An organization's data is deleted a part a transaction. From the first part on its writes are
// refused and nobody can bind it; a deletion stopped half-way goes on when called again, and
// another organization's data stays.
func TestAnOrganizationIsDeletedInParts(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		owner := store.Binding{Claim: "claim-1", Integration: "integration-1"}
		org := boundOrganization(t, s, "deleted-in-parts", owner, 7)
		other := boundOrganization(t, s, "kept", store.Binding{Claim: "claim-2", Integration: "integration-2"}, 7)
		kept := rowsOf(t, s, other)

		parts := 0
		stop := errors.New("stopped half-way")
		p := provisioning.DefaultPolicy
		sqlstore.SetDeletionPart(t, 3, func(table string) error {
			parts++
			if parts != 4 && parts != 6 {
				return nil
			}
			now := time.Now().UTC().Truncate(time.Microsecond)
			late := &store.Resource{Org: org, Kind: store.KindUser, ID: "late", Name: "late", Active: true, Doc: []byte(`{}`),
				Created: now, Modified: now, Version: 1}
			if err := s.Create(ctx, late, nil, store.Write{Policy: &p, Binding: owner}); !errors.Is(err, store.ErrOrganizationReleased) {
				t.Errorf("a write during the deletion: %v, want ErrOrganizationReleased", err)
			}
			if err := s.BindOrganization(ctx, org, store.Binding{Claim: "claim-3", Integration: "integration-3"}, ""); !errors.Is(err, store.ErrOrganizationBeingDeleted) {
				t.Errorf("another claim binding the organization during its deletion: %v", err)
			}
			if err := s.BindOrganization(ctx, org, store.Binding{Claim: "claim-1", Integration: "integration-4"}, ""); !errors.Is(err, store.ErrOrganizationBeingDeleted) {
				t.Errorf("its claim binding it to another integration during its deletion: %v", err)
			}
			return stop
		})
		if err := s.DeleteOrganization(ctx, org, owner); !errors.Is(err, stop) {
			t.Fatalf("the deletion: %v, want it stopped", err)
		}
		left := rowsOf(t, s, org)
		if len(left) == 0 || left["organization_owners"] != 1 {
			t.Fatalf("rows left half-way: %v", left)
		}
		marked := owner
		marked.Deleting = true
		if b, err := s.OrganizationBinding(ctx, org); err != nil || b != marked {
			t.Fatalf("the binding half-way: %+v, %v; want the owner's, marked", b, err)
		}
		var claim string
		if err := s.DB().QueryRowContext(ctx, s.Rebind(`SELECT claim_uid FROM organization_owners WHERE org = ?`), org).Scan(&claim); err != nil ||
			claim == owner.Claim {
			t.Fatalf("the stored claim half-way: %q, %v; want it marked, so that earlier releases refuse the organization too", claim, err)
		}
		being, err := s.OrganizationsBeingDeleted(ctx, 1000)
		if err != nil || !slices.Contains(being, org) || slices.Contains(being, other) {
			t.Fatalf("organizations being deleted: %v, %v", being, err)
		}

		// Another integration of the claim deleted with its data meanwhile: the data is going
		// whichever integration's it was, so that deletion goes on with it.
		if err := s.DeleteOrganization(ctx, org, store.Binding{Claim: "claim-1", Integration: "integration-5"}); !errors.Is(err, stop) {
			t.Fatalf("another integration's deletion of the marked organization: %v, want it to go on (and stop at the hook)", err)
		}

		// Whoever started it is gone: the leader finishes it.
		sqlstore.SetDeletionPart(t, 3, nil)
		if finished, err := s.FinishOrganizationDeletion(ctx, org); err != nil || !finished {
			t.Fatalf("finishing the deletion: %v, %v", finished, err)
		}
		if left := rowsOf(t, s, org); len(left) != 0 {
			t.Fatalf("rows left after the deletion: %v", left)
		}
		if parts < 4 {
			t.Fatalf("the deletion ran in %d parts", parts)
		}
		if got := rowsOf(t, s, other); fmt.Sprint(got) != fmt.Sprint(kept) {
			t.Fatalf("the other organization's rows: %v, want %v", got, kept)
		}
		if err := s.DeleteOrganization(ctx, org, owner); err != nil {
			t.Fatalf("the first caller calling again once it is done: %v", err)
		}
		if err := s.BindOrganization(ctx, org, store.Binding{Claim: "claim-3", Integration: "integration-3"}, ""); err != nil {
			t.Fatalf("binding the deleted organization's name anew: %v", err)
		}
	})
}
