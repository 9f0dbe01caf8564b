package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// A user's create on PostgreSQL is one statement when its assumptions hold (no member outside
// SCIM holds the userName, nothing is left under the id), with or without a policy; when one does
// not, nothing of the statement is written and the create runs the usual way, to the usual answer.
func TestPostgresCreateIsOneStatementWhenItsAssumptionsHold(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	org := fmt.Sprintf("one-statement-%d", time.Now().UnixNano())
	p := provisioning.DefaultPolicy
	mapped := provisioning.Policy{OnDeactivate: provisioning.Deactivate, OnDelete: provisioning.Suspend, DefaultRole: "viewer",
		GroupRoles: []provisioning.GroupRole{{Group: "Engineering", Role: "engineer"}}, MaxDeprovisionsPerHour: 1}
	made, gaveUp := sqlstore.OneStatementCreates(), sqlstore.SpeculationsGivenUp()
	createUsers(t, s, org, 3, &p)
	createUsers(t, s, org+"-mapped", 2, &mapped)
	createUsers(t, s, org+"-no-policy", 2, nil)
	if n := sqlstore.OneStatementCreates() - made; n != 7 {
		t.Fatalf("%d of 7 creates were one statement", n)
	}
	if members, _, err := s.ListMembers(ctx, org, store.MemberQuery{Limit: 10}); err != nil || len(members) != 3 {
		t.Fatalf("members after three creates: %+v, %v", members, err)
	}

	// A member invited outside SCIM holds the userName: the statement's check fails, and the
	// usual way refuses the takeover, leaving nothing of the user behind.
	if err := invitedMember(s)(ctx, org, "invited", "grace"); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	grace := &store.Resource{Org: org, Kind: store.KindUser, ID: "grace-id", Name: "Grace", Active: true, Doc: []byte(`{}`),
		Created: now, Modified: now, Version: 1}
	if err := s.Create(ctx, grace, nil, store.Write{Policy: &p}); !errors.Is(err, store.ErrTakeover) {
		t.Fatalf("creating over an invited member: %v, want a refused takeover", err)
	}
	if n := sqlstore.SpeculationsGivenUp() - gaveUp; n != 1 {
		t.Fatalf("%d creates ran again the usual way, want 1", n)
	}
	if _, err := s.Get(ctx, org, store.KindUser, "grace-id"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused create left its user: %v", err)
	}
	// The same userName without a policy takes nothing over: one statement again.
	made = sqlstore.OneStatementCreates()
	if err := s.Create(ctx, grace, nil, store.Write{}); err != nil {
		t.Fatal(err)
	}
	if sqlstore.OneStatementCreates() != made+1 {
		t.Fatal("a create without a policy was not one statement")
	}
}
