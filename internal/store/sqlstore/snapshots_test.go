package sqlstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/store/storetest"
)

// On PostgreSQL the event snapshot of a user a write created from nothing, or updated, is built
// from what the write read and stored instead of read back (read_ahead.go). Both ways must give
// the same events, for every policy and user shape, through creation, a group, deactivation,
// reactivation, a new profile and a new userName; a user id with a member left from before is
// read back.
func TestSnapshotsOfWrittenUsersMatchWhatIsReadBack(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) { testSnapshotsMatch(t, s) })
}

func testSnapshotsMatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	pending := provisioning.Policy{OnDeactivate: provisioning.Deactivate, OnDelete: provisioning.Suspend, DefaultRole: "viewer"}
	withRole := provisioning.DefaultPolicy
	withRole.DefaultRole = "member"
	mapped := withRole
	mapped.GroupRoles = []provisioning.GroupRole{{Group: "Engineering", Role: "engineer"}}
	mapped.MaxDeprovisionsPerHour = 1 // the second deactivation of an organization is held
	policies := map[string]provisioning.Policy{"default": provisioning.DefaultPolicy, "pending": pending, "role": withRole, "mapped": mapped}
	docs := map[string]struct {
		doc    string
		active bool
	}{
		"bare":     {`{}`, true},
		"inactive": {`{"displayName":"Off"}`, false},
		"full": {`{"displayName":"Ada Lovelace","name":{"givenName":"Ada","familyName":"Lovelace"},"title":"Engineer",` +
			`"emails":[{"value":"ada@x.example","type":"work","primary":true},{"value":"ada@home.example"}],` +
			`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7","department":"R&D","costCenter":"c1",` +
			`"division":"d","organization":"o","manager":{"value":"m1"}}}`, true},
	}
	run := func(fromWrites bool, policy provisioning.Policy, doc string, active bool) []string {
		sqlstore.SetSnapshotsFromWrites(fromWrites)
		defer sqlstore.SetSnapshotsFromWrites(true)
		org := fmt.Sprintf("snap-%d", time.Now().UnixNano())
		now := time.Now().UTC().Truncate(time.Microsecond)
		u := &store.Resource{Org: org, Kind: store.KindUser, ID: "u1", Name: "Ada@X.example", Active: active, Doc: []byte(doc),
			Created: now, Modified: now, Version: 1}
		w := store.Write{Policy: &policy, Audit: &store.AuditEvent{RequestID: "r", Action: "c", Status: 201}}
		if err := s.Create(ctx, u, nil, w); err != nil {
			t.Fatal(err)
		}
		g := &store.Resource{Org: org, Kind: store.KindGroup, ID: "g1", Name: "Engineering", Doc: []byte(`{"displayName":"Engineering"}`),
			Created: now, Modified: now, Version: 1}
		if err := s.Create(ctx, g, []string{"u1"}, w); err != nil {
			t.Fatal(err)
		}
		for _, change := range []func(*store.Resource){
			func(r *store.Resource) { r.Active = false },
			func(r *store.Resource) { r.Active = true },
			func(r *store.Resource) { r.Doc = []byte(`{"title":"Chief","displayName":"New"}`) },
			func(r *store.Resource) { r.Name = "renamed@x.example" },
		} {
			current, err := s.Get(ctx, org, store.KindUser, "u1")
			if err != nil {
				t.Fatal(err)
			}
			next := *current
			change(&next)
			if _, err := s.Update(ctx, current, &store.Change{Resource: &next}, w); err != nil {
				t.Fatal(err)
			}
		}
		// One member at a time, as identity providers change groups (on PostgreSQL the change reads
		// the member ahead, changeOneMember): into a second group, out of the first (its role
		// mapping goes), back in (the groups in their order), twice, a member that is not one, a
		// nested group in and out, and an id that names nothing.
		if err := s.Create(ctx, &store.Resource{Org: org, Kind: store.KindGroup, ID: "g2", Name: "Ops", Doc: []byte(`{"displayName":"Ops"}`),
			Created: now, Modified: now, Version: 1}, nil, w); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			group  string
			change store.MemberChange
		}{
			{"g2", store.MemberChange{Add: []string{"u1"}}}, {"g1", store.MemberChange{Remove: []string{"u1"}}},
			{"g1", store.MemberChange{Add: []string{"u1"}}}, {"g1", store.MemberChange{Add: []string{"u1"}}},
			{"g2", store.MemberChange{Remove: []string{"nosuch"}}}, {"g1", store.MemberChange{Add: []string{"g2"}}},
			{"g1", store.MemberChange{Remove: []string{"g2"}}}, {"g2", store.MemberChange{Add: []string{"nosuch"}}},
		} {
			current, err := s.Get(ctx, org, store.KindGroup, c.group)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Update(ctx, current, &store.Change{Members: &c.change}, w)
			var invalid *store.InvalidMemberError
			if wantInvalid := len(c.change.Add) == 1 && c.change.Add[0] == "nosuch"; wantInvalid != errors.As(err, &invalid) || !wantInvalid && err != nil {
				t.Fatalf("%s %+v: %v", c.group, c.change, err)
			}
		}
		return eventData(t, s, org)
	}
	for pn, p := range policies {
		for dn, d := range docs {
			before := sqlstore.BuiltFromWrites()
			fromWrites := run(true, p, d.doc, d.active)
			// The create and each of the four updates build their snapshot (once per write); on
			// PostgreSQL, so do the three single-member group changes that change something.
			want := 5
			if strings.HasSuffix(t.Name(), "postgres") {
				want = 8
			}
			if built := sqlstore.BuiltFromWrites() - before; built < int64(want) {
				t.Fatalf("%s/%s: %d of the %d writes built their snapshots from the write", pn, dn, built, want)
			}
			readBack := run(false, p, d.doc, d.active)
			if fmt.Sprint(fromWrites) != fmt.Sprint(readBack) {
				t.Errorf("%s/%s: built from the write\n  %v\nread back\n  %v", pn, dn, fromWrites, readBack)
			}
		}
	}

	// A user id whose member and employee record remain (deleted before): read back.
	org := fmt.Sprintf("snap-again-%d", time.Now().UnixNano())
	p := withRole
	w := store.Write{Policy: &p}
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := &store.Resource{Org: org, Kind: store.KindUser, ID: "u1", Name: "ada", Active: true, Doc: []byte(docs["full"].doc), Created: now, Modified: now, Version: 1}
	if err := s.Create(ctx, u, nil, w); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, org, store.KindUser, "u1", 0, w); err != nil {
		t.Fatal(err)
	}
	before := sqlstore.BuiltFromWrites()
	u.Doc = []byte(`{"displayName":"Again"}`)
	if err := s.Create(ctx, u, nil, w); err != nil {
		t.Fatal(err)
	}
	if sqlstore.BuiltFromWrites() != before {
		t.Fatal("a user id with a member left from before must have its snapshot read back")
	}
}

// The members of a group change's events are read together (one query per 500), and their
// snapshots are the ones read one by one: users with and without a record, in another group
// already, a nested group, and removed and added back.
func TestSnapshotsOfAGroupsMembersAreReadTogether(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) { testGroupSnapshotsMatch(t, s) })
}

func testGroupSnapshotsMatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	policy := provisioning.DefaultPolicy
	policy.DefaultRole = "member"
	policy.GroupRoles = []provisioning.GroupRole{{Group: "Engineering", Role: "engineer"}}
	w := store.Write{Policy: &policy, Audit: &store.AuditEvent{RequestID: "r", Action: "c", Status: 201}}
	run := func(prefetch bool) []string {
		sqlstore.SetPrefetchSnapshots(prefetch)
		defer sqlstore.SetPrefetchSnapshots(true)
		org := fmt.Sprintf("snap-group-%d", time.Now().UnixNano())
		now := time.Now().UTC().Truncate(time.Microsecond)
		for i, doc := range []string{`{}`, `{"displayName":"Ada","title":"Engineer","emails":[{"value":"ada@x.example","primary":true}]}`,
			`{"displayName":"Off"}`, `{"name":{"givenName":"Bo"}}`} {
			u := &store.Resource{Org: org, Kind: store.KindUser, ID: fmt.Sprintf("u%d", i), Name: fmt.Sprintf("user%d@x.example", i),
				Active: i != 2, Doc: []byte(doc), Created: now, Modified: now, Version: 1}
			if err := s.Create(ctx, u, nil, w); err != nil {
				t.Fatal(err)
			}
		}
		group := func(id, name string, members []string) {
			g := &store.Resource{Org: org, Kind: store.KindGroup, ID: id, Name: name, Doc: []byte(`{"displayName":"` + name + `"}`),
				Created: now, Modified: now, Version: 1}
			if err := s.Create(ctx, g, members, w); err != nil {
				t.Fatal(err)
			}
		}
		group("g0", "Other", []string{"u1"})
		group("g1", "Engineering", []string{"u0", "u1", "u2", "u3", "g0"})
		for _, c := range []store.MemberChange{{Remove: []string{"u1", "u2"}}, {Add: []string{"u2", "u1"}}} {
			_, err := storetest.Update(ctx, s, org, store.KindGroup, "g1", 0, func(*store.Resource) (*store.Change, error) {
				return &store.Change{Members: &c}, nil
			}, w)
			if err != nil {
				t.Fatal(err)
			}
		}
		return eventData(t, s, org)
	}
	before := sqlstore.PrefetchedMembers()
	together := run(true)
	if n := sqlstore.PrefetchedMembers() - before; n < 6 {
		t.Fatalf("%d members were read together, want the group's creation's four and the change's two", n)
	}
	oneByOne := run(false)
	if fmt.Sprint(together) != fmt.Sprint(oneByOne) {
		t.Errorf("read together\n  %v\none by one\n  %v", together, oneByOne)
	}
}

// eventData lists an organization's events as type and snapshot JSON, in order.
func eventData(t *testing.T, s store.Store, org string) []string {
	t.Helper()
	events, err := s.Events(context.Background(), org, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(events))
	for _, e := range events {
		b, err := json.Marshal(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(e.Event.Type)+" "+string(b))
	}
	return out
}

// A member in more groups than a snapshot carries: every event about it names its first
// MaxSnapshotGroups groups and says there are more, whether the snapshot is built from the write
// or read back; so each event stays bounded however many groups the member joins.
func TestASnapshotCarriesABoundedNumberOfGroups(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		groups := store.MaxSnapshotGroups + 20
		for _, fromWrites := range []bool{true, false} {
			sqlstore.SetSnapshotsFromWrites(fromWrites)
			org := fmt.Sprintf("snap-groups-%d", time.Now().UnixNano())
			p := provisioning.DefaultPolicy
			w := store.Write{Policy: &p}
			now := time.Now().UTC().Truncate(time.Microsecond)
			u := &store.Resource{Org: org, Kind: store.KindUser, ID: "u1", Name: "ada", Active: true, Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
			if err := s.Create(ctx, u, nil, w); err != nil {
				t.Fatal(err)
			}
			// Created in descending id order: a snapshot keeps the first groups by id, on every path
			// (the last one joins by a change of one member, which PostgreSQL makes in one statement).
			for i := range groups {
				id := groups - 1 - i
				g := &store.Resource{Org: org, Kind: store.KindGroup, ID: fmt.Sprintf("g%03d", id), Name: fmt.Sprintf("Team %03d", id),
					Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
				members := []string{"u1"}
				if i == groups-1 {
					members = nil
				}
				if err := s.Create(ctx, g, members, w); err != nil {
					t.Fatal(err)
				}
				if members == nil {
					if err := addOne(s, g, "u1", ""); err != nil {
						t.Fatal(err)
					}
				}
			}
			current, err := s.Get(ctx, org, store.KindUser, "u1")
			if err != nil {
				t.Fatal(err)
			}
			if len(current.Groups) != groups {
				t.Fatalf("the user reads back in %d groups, want all %d (SCIM's groups are never cut)", len(current.Groups), groups)
			}
			next := *current
			next.Doc = []byte(`{"displayName":"Ada"}`)
			if _, err := s.Update(ctx, current, &store.Change{Resource: &next}, w); err != nil {
				t.Fatal(err)
			}
			var last []store.EventRecord
			for after := int64(0); ; {
				page, err := s.Events(ctx, org, after, 100)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				last, after = page, page[len(page)-1].Seq
			}
			for _, e := range last[len(last)-2:] { // the last group's membership, and the update
				m := e.Data.Member
				if m == nil || len(m.Groups) != store.MaxSnapshotGroups || !m.GroupsTruncated || m.Groups[0].DisplayName != "Team 000" ||
					m.Groups[store.MaxSnapshotGroups-1].DisplayName != fmt.Sprintf("Team %03d", store.MaxSnapshotGroups-1) {
					t.Fatalf("from the write %v: %s's member: %+v, want the first %d groups and groupsTruncated", fromWrites, e.Event.Type, m, store.MaxSnapshotGroups)
				}
			}
		}
		sqlstore.SetSnapshotsFromWrites(true)
	})
}
