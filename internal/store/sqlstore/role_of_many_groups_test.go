package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/store/storetest"
)

// A member in more groups than are read for its role gets it by asking, mapping by mapping,
// whether one of its groups is the one named: by displayName lower-cased, or by externalId.
func TestTheRoleOfAMemberInManyGroupsIsFoundByMapping(t *testing.T) {
	before := provisioning.GroupsReadForRole
	provisioning.GroupsReadForRole = 2
	t.Cleanup(func() { provisioning.GroupsReadForRole = before })
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		p := provisioning.DefaultPolicy
		p.DefaultRole = "member"
		p.GroupRoles = []provisioning.GroupRole{{Group: "ADMINS", Role: "admin"}, {Group: "ext-eng", Role: "engineer"}}
		org := fmt.Sprintf("role-of-many-%d", time.Now().UnixNano())
		createUsers(t, s, org, 1, &p)
		group := func(id, name, externalID string) {
			now := time.Now().UTC().Truncate(time.Microsecond)
			g := &store.Resource{Org: org, Kind: store.KindGroup, ID: id, Name: name, ExternalID: externalID, Doc: []byte(`{}`),
				Created: now, Modified: now, Version: 1}
			if err := s.Create(ctx, g, []string{"u0"}, store.Write{Policy: &p}); err != nil {
				t.Fatal(err)
			}
		}
		role := func() string { return memberRole(t, s, org, "u0") }
		for i := range 3 {
			group(fmt.Sprintf("g%d", i), fmt.Sprintf("Team %d", i), "")
		}
		if r := role(); r != "member" {
			t.Fatalf("in three unmapped groups: role %q", r)
		}
		group("g3", "Admins", "")
		if r := role(); r != "admin" {
			t.Fatalf("in a fourth group, named by the first mapping: role %q, want admin", r)
		}
		if _, err := storetest.Update(ctx, s, org, store.KindGroup, "g3", 0, func(cur *store.Resource) (*store.Change, error) {
			next := *cur
			return &store.Change{Resource: &next, Members: &store.MemberChange{Remove: []string{"u0"}}}, nil
		}, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
		if r := role(); r != "member" {
			t.Fatalf("out of the mapped group again: role %q, want member", r)
		}
		group("g4", "Engineering", "ext-eng")
		if r := role(); r != "engineer" {
			t.Fatalf("in a group named by its externalId: role %q, want engineer", r)
		}
		if _, err := storetest.Update(ctx, s, org, store.KindGroup, "g3", 0, func(cur *store.Resource) (*store.Change, error) {
			next := *cur
			return &store.Change{Resource: &next, Members: &store.MemberChange{Add: []string{"u0"}}}, nil
		}, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
		if r := role(); r != "admin" {
			t.Fatalf("in groups both mappings name: role %q, want the first mapping's", r)
		}
	})
}

// A mapping by an externalId that many groups share asks about a bounded number of them for a
// member in many groups: a tenant's hundred thousand groups of one externalId do not make each
// of its members' roles that many index reads. (SQLite: the first created are asked about; the
// plans of both stores are in TestInGroupNamedLooksUpByKeys.)
func TestAnExternalIDSharedByManyGroupsIsAskedAboutABoundedNumber(t *testing.T) {
	for v, n := range map[*int]int{&provisioning.GroupsReadForRole: 2, &provisioning.GroupsSharingAnExternalID: 2} {
		before := *v
		*v = n
		t.Cleanup(func() { *v = before })
	}
	s := sqliteStore(t)
	ctx := context.Background()
	p := provisioning.DefaultPolicy
	p.DefaultRole = "member"
	p.GroupRoles = []provisioning.GroupRole{{Group: "ext-x", Role: "x"}}
	org := fmt.Sprintf("shared-external-id-%d", time.Now().UnixNano())
	createUsers(t, s, org, 1, &p)
	for i := range 3 {
		makeGroup(t, s, org, fmt.Sprintf("g%d", i), fmt.Sprintf("Team %d", i), []string{"u0"}, p)
	}
	group := func(id string, members []string) {
		now := time.Now().UTC().Truncate(time.Microsecond)
		g := &store.Resource{Org: org, Kind: store.KindGroup, ID: id, Name: id, ExternalID: "ext-x", Doc: []byte(`{}`),
			Created: now, Modified: now, Version: 1}
		if err := s.Create(ctx, g, members, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
	}
	role := func() string { return memberRole(t, s, org, "u0") }
	group("e0", nil)
	group("e1", []string{"u0"})
	if r := role(); r != "x" {
		t.Fatalf("in the second of two groups of the mapped externalId: role %q, want x", r)
	}
	if _, err := storetest.Update(ctx, s, org, store.KindGroup, "e1", 0, func(cur *store.Resource) (*store.Change, error) {
		next := *cur
		return &store.Change{Resource: &next, Members: &store.MemberChange{Remove: []string{"u0"}}}, nil
	}, store.Write{Policy: &p}); err != nil {
		t.Fatal(err)
	}
	group("e2", []string{"u0"})
	if r := role(); r != "member" {
		t.Fatalf("in only the third group of the mapped externalId, past the two asked about: role %q, want member", r)
	}
}

// memberRole is a member's role.
func memberRole(t *testing.T, s *sqlstore.Store, org, id string) string {
	t.Helper()
	m, err := s.Member(context.Background(), org, id)
	if err != nil {
		t.Fatal(err)
	}
	return m.Member.Role
}
