package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/store/storetest"
)

// addOne adds user id to the group read as current: a group's change of one member, which makes
// the group's UPDATE in the statement that changes the membership (changeOneMember).
func addOne(s store.Store, current *store.Resource, id, name string) error {
	next := *current
	if name != "" {
		next.Name = name
	}
	p := provisioning.DefaultPolicy
	_, err := s.Update(context.Background(), current, &store.Change{Resource: &next, Members: &store.MemberChange{Add: []string{id}}},
		store.Write{Policy: &p})
	return err
}

// A group's change of one member checks the group's version in its one statement: a lost race is
// a version mismatch, a deleted group not found, and neither leaves the membership behind.
func TestPostgresGroupChangeOfOneMemberChecksTheGroup(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	org, p := userAndGroup(t, s, "group-version")
	stale, err := s.Get(ctx, org, store.KindGroup, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.Update(ctx, s, org, store.KindGroup, "g1", 0, func(cur *store.Resource) (*store.Change, error) {
		next := *cur
		next.Doc = []byte(`{"displayName":"Team","externalId":"x"}`)
		return &store.Change{Resource: &next}, nil
	}, store.Write{Policy: &p}); err != nil {
		t.Fatal(err)
	}
	if err := addOne(s, stale, "u0", ""); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("a change of one member to a group another write changed: %v, want a version mismatch", err)
	}
	other := &store.Resource{Org: org, Kind: store.KindGroup, ID: "g2", Name: "Other", Doc: []byte(`{}`), Created: stale.Created,
		Modified: stale.Modified, Version: 1}
	if err := s.Create(ctx, other, nil, store.Write{}); err != nil {
		t.Fatal(err)
	}
	current, err := s.Get(ctx, org, store.KindGroup, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, org, store.KindGroup, "g1", 0, store.Write{}); err != nil {
		t.Fatal(err)
	}
	if err := addOne(s, current, "u0", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a change of one member to a deleted group: %v, want not found", err)
	}
	groups, _, err := s.GroupsOf(ctx, org, []string{"u0"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups["u0"]) != 0 {
		t.Fatalf("a refused change left a membership: %+v", groups)
	}
	// And at the group's version, the change is made.
	g2, err := s.Get(ctx, org, store.KindGroup, "g2")
	if err != nil {
		t.Fatal(err)
	}
	made := sqlstore.GroupUpdatesWithTheirChange()
	if err := addOne(s, g2, "u0", ""); err != nil {
		t.Fatal(err)
	}
	if sqlstore.GroupUpdatesWithTheirChange() != made+1 {
		t.Fatal("the group's UPDATE was not made in its change's statement")
	}
	if groups, _, err = s.GroupsOf(ctx, org, []string{"u0"}, 10); err != nil || len(groups["u0"]) != 1 {
		t.Fatalf("the change at the group's version: %+v, %v", groups, err)
	}
}

// The group's row is locked before its memberships and the member, as every write takes them: a
// change of one member waiting for the group's row holds no lock on the member.
func TestPostgresGroupChangeOfOneMemberLocksTheGroupFirst(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	org, _ := userAndGroup(t, s, "group-order")
	current, err := s.Get(ctx, org, store.KindGroup, "g1")
	if err != nil {
		t.Fatal(err)
	}
	hold := holdRows(t, s, org, `SELECT 1 FROM scim_groups WHERE org = $1 AND id = 'g1' FOR UPDATE`)
	done := make(chan error, 1)
	go func() { done <- addOne(s, current, "u0", "") }()
	blockedOn(t, s)
	if err := memberLockFree(t, s, org, "u0"); err != nil {
		t.Fatalf("a change waiting for the group's row already holds the member: %v", err)
	}
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
