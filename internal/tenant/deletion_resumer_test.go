package tenant

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// A deletion whose caller is gone (its binding marked, its data partly there) is finished by the
// leader's resumer; another organization's data stays.
func TestTheLeaderFinishesAStoppedDeletion(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	p := provisioning.DefaultPolicy
	for _, org := range []string{"stopped", "kept"} {
		b := store.Binding{Claim: "claim-" + org, Integration: "integration-" + org}
		if err := st.BindOrganization(ctx, org, b, ""); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		u := &store.Resource{Org: org, Kind: store.KindUser, ID: "u1", Name: "ada", Active: true, Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
		if err := st.Create(ctx, u, nil, store.Write{Policy: &p, Binding: b}); err != nil {
			t.Fatal(err)
		}
	}
	// The mark DeleteOrganization makes before its first part, as a deletion stopped right after it leaves it.
	if _, err := st.DB().ExecContext(ctx, `UPDATE organization_owners SET claim_uid = 'deleting:' || claim_uid,
		integration_uid = 'deleting:' || integration_uid WHERE org = 'stopped'`); err != nil {
		t.Fatal(err)
	}
	if b, err := st.OrganizationBinding(ctx, "stopped"); err != nil || !b.Deleting {
		t.Fatalf("the marked binding reads %+v, %v", b, err)
	}

	(&DeletionResumer{Store: st, Log: logr.Discard()}).Resume(ctx)

	if b, err := st.OrganizationBinding(ctx, "stopped"); err != nil || b != (store.Binding{}) {
		t.Fatalf("the stopped organization's binding after the resumer: %+v, %v", b, err)
	}
	if _, err := st.Get(ctx, "stopped", store.KindUser, "u1"); err != store.ErrNotFound {
		t.Fatalf("the stopped organization's user after the resumer: %v", err)
	}
	if _, err := st.Get(ctx, "kept", store.KindUser, "u1"); err != nil {
		t.Fatalf("the other organization's user: %v", err)
	}
	if b, err := st.OrganizationBinding(ctx, "kept"); err != nil || b.Deleting || b.Claim != "claim-kept" {
		t.Fatalf("the other organization's binding: %+v, %v", b, err)
	}
}
