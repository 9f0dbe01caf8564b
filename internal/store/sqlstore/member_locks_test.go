package sqlstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// A receiver replaces its copy of a member with each event's member (docs/events.md). Two writes
// of one member in flight at once on PostgreSQL, a user's PATCH and a group change adding it,
// must still leave the receiver's copy as the member is: the later event shows the earlier one's
// change. Before member locks, each could miss the other, and the later event undid the earlier
// one in the copy: a lost membership, or a deactivated member back to Active.
func TestPostgresConcurrentWritesOfAMemberLeaveReceiversRight(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	p := &provisioning.DefaultPolicy
	deactivate := func(org string) error {
		cur, err := s.GetForUpdate(ctx, org, store.KindUser, "u1")
		if err != nil {
			return err
		}
		next := *cur
		next.Active = false
		_, err = s.Update(ctx, cur, &store.Change{Resource: &next}, fencedWrite(p, "deactivate"))
		return err
	}
	addToGroup := func(org string, ids ...string) error {
		cur, err := s.GetForUpdate(ctx, org, store.KindGroup, "g1")
		if err != nil {
			return err
		}
		_, err = s.Update(ctx, cur, &store.Change{Members: &store.MemberChange{Add: ids}}, fencedWrite(p, "add"))
		return err
	}
	setUp := func(t *testing.T) string {
		org := boundWithAUser(t, s, "member-locks", p)
		if err := s.Create(ctx, newUser(org, "u2", "bob"), nil, fencedWrite(p, "seed")); err != nil {
			t.Fatal(err)
		}
		g := &store.Resource{Org: org, Kind: store.KindGroup, ID: "g1", Name: "Staff", Doc: []byte(`{}`), Version: 1}
		if err := s.Create(ctx, g, nil, fencedWrite(p, "group")); err != nil {
			t.Fatal(err)
		}
		return org
	}

	// The PATCH's statement starts (its snapshot taken), then waits for the user's row; the group
	// change commits meanwhile.
	for _, ids := range [][]string{{"u1"}, {"u1", "u2"}} {
		t.Run("a PATCH waiting while a group change of members "+strings.Join(ids, " ")+" commits", func(t *testing.T) {
			org := setUp(t)
			tx, xid := holdTheUsersRow(t, s, org, "u1")
			patched := make(chan error, 1)
			go func() { patched <- deactivate(org) }()
			waitUntil(t, s, "the PATCH waits for the user's row", patched,
				`SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND transactionid::text = $1 AND NOT granted`, xid)
			added := make(chan error, 1)
			go func() { added <- addToGroup(org, ids...) }()
			doneOrWaiting(t, s, added, org)
			_ = tx.Rollback()
			for _, c := range []chan error{patched, added} {
				if err := <-c; err != nil {
					t.Fatal(err)
				}
			}
			receiverIsRight(t, s, org, "u1")
		})
	}

	// The group change reads its members' snapshots, then the PATCH commits, then the group
	// change takes its events' positions. Replacing the members locks all of the organization's.
	for _, replace := range []bool{false, true} {
		t.Run(fmt.Sprintf("a group change (replace %v) whose snapshots were read before a PATCH committed", replace), func(t *testing.T) {
			org := setUp(t)
			read, resume := make(chan struct{}), make(chan struct{})
			sqlstore.SetAfterSnapshotsRead(func() { close(read); <-resume })
			added := make(chan error, 1)
			go func() {
				cur, err := s.GetForUpdate(ctx, org, store.KindGroup, "g1")
				if err == nil {
					change := &store.MemberChange{Add: []string{"u1", "u2"}, Replace: replace}
					_, err = s.Update(ctx, cur, &store.Change{Members: change}, fencedWrite(p, "add"))
				}
				added <- err
			}()
			<-read
			patched := make(chan error, 1)
			go func() { patched <- deactivate(org) }()
			doneOrWaiting(t, s, patched, org)
			close(resume)
			for _, c := range []chan error{added, patched} {
				if err := <-c; err != nil {
					t.Fatal(err)
				}
			}
			receiverIsRight(t, s, org, "u1")
		})
	}
}

// holdTheUsersRow locks a user's row in a transaction of its own (as a write does, without
// keeping anyone from reading or referencing it) and returns it with its transaction id.
func holdTheUsersRow(t *testing.T, s *sqlstore.Store, org, id string) (interface{ Rollback() error }, string) {
	t.Helper()
	tx, err := s.DB().BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	var xid string
	if err := tx.QueryRowContext(context.Background(), `SELECT pg_current_xact_id()::text FROM scim_users WHERE org = $1 AND id = $2 FOR NO KEY UPDATE`, org, id).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	return tx, xid
}

// doneOrWaiting waits until the write sending to done has finished (it is put back) or waits for
// a member lock of org: the other write's, of u1 or of all of the organization's.
func doneOrWaiting(t *testing.T, s *sqlstore.Store, done chan error, org string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		select {
		case err := <-done:
			done <- err
			return
		default:
		}
		var n int
		if err := s.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND (classid, objid::bigint) IN ((7316237, (hashtext($1)::bigint + 4294967296) % 4294967296),
				(7316238, (hashtext($1 || '/u1')::bigint + 4294967296) % 4294967296))`, org).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatal("the write neither finished nor waited for a member's lock")
}

// receiverIsRight applies the organization's events as a receiver does, replacing its copy of a
// member with each event's, and compares its copy of member id with the store's.
func receiverIsRight(t *testing.T, s *sqlstore.Store, org, id string) {
	t.Helper()
	ctx := context.Background()
	var copyOf *store.MemberSnapshot
	var after int64
	for {
		page, err := s.Events(ctx, org, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if m := e.Data.Member; m != nil && m.ID == id {
				copyOf = m
			}
			after = e.Seq
		}
	}
	member, err := s.Member(ctx, org, id)
	if err != nil {
		t.Fatal(err)
	}
	user, err := s.Get(ctx, org, store.KindUser, id)
	if err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for _, g := range user.Groups {
		want = append(want, g.Value)
	}
	if copyOf == nil {
		t.Fatalf("no event carries member %s", id)
	}
	for _, g := range copyOf.Groups {
		got = append(got, g.ID)
	}
	if copyOf.State != member.Member.State || !slices.Equal(got, want) {
		t.Fatalf("the receiver's copy of %s is %s in groups %v; the member is %s in groups %v", id, copyOf.State, got, member.Member.State, want)
	}
}

// Every write whose events describe members takes their locks: one member's, a few named ones',
// or its organization's when it names many or learns them as it goes. A write without a policy
// records no events and takes none.
func TestPostgresEveryWriteOfMembersLocksThem(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	p := &provisioning.Policy{AutoActivate: true}
	mapped := &provisioning.Policy{AutoActivate: true, GroupRoles: []provisioning.GroupRole{{Group: "Staff", Role: "staff"}}}
	org := boundWithAUser(t, s, "member-locks-paths", p)
	var many []string
	for i := range 17 {
		u := newUser(org, fmt.Sprintf("m%d", i), fmt.Sprintf("many%d", i))
		if err := s.Create(ctx, u, nil, fencedWrite(p, "seed")); err != nil {
			t.Fatal(err)
		}
		many = append(many, u.ID)
	}
	group := func(id string, members []string) {
		g := &store.Resource{Org: org, Kind: store.KindGroup, ID: id, Name: "Staff", Doc: []byte(`{}`), Version: 1}
		if err := s.Create(ctx, g, members, fencedWrite(p, "group")); err != nil {
			t.Fatal(err)
		}
	}
	update := func(kind store.Kind, id string, w store.Write, change func(*store.Resource) *store.Change) error {
		cur, err := s.Get(ctx, org, kind, id)
		if err != nil {
			return err
		}
		next := *cur
		_, err = s.Update(ctx, cur, change(&next), w)
		return err
	}
	for _, c := range []struct {
		name     string
		few, all int64
		write    func() error
	}{
		{"a group created with its members", 1, 0, func() error { group("g1", []string{"u1", "m0"}); return nil }},
		{"a user's rename (the usual way)", 1, 0, func() error {
			return update(store.KindUser, "u1", fencedWrite(p, "rename"), func(r *store.Resource) *store.Change { r.DisplayName = "Ada L"; return &store.Change{Resource: r} })
		}},
		{"two members added", 1, 0, func() error {
			return update(store.KindGroup, "g1", fencedWrite(p, "add"), func(*store.Resource) *store.Change {
				return &store.Change{Members: &store.MemberChange{Add: []string{"m1", "m2"}}}
			})
		}},
		{"seventeen members added", 0, 1, func() error {
			return update(store.KindGroup, "g1", fencedWrite(p, "add"), func(*store.Resource) *store.Change {
				return &store.Change{Members: &store.MemberChange{Add: many}}
			})
		}},
		{"members replaced", 0, 1, func() error {
			return update(store.KindGroup, "g1", fencedWrite(p, "replace"), func(*store.Resource) *store.Change {
				return &store.Change{Members: &store.MemberChange{Add: []string{"u1"}, Replace: true}}
			})
		}},
		{"a group renamed under role mappings", 0, 1, func() error {
			return update(store.KindGroup, "g1", fencedWrite(mapped, "rename"), func(r *store.Resource) *store.Change { r.Name = "Staff 2"; return &store.Change{Resource: r} })
		}},
		{"a group renamed without them", 0, 0, func() error {
			return update(store.KindGroup, "g1", fencedWrite(p, "rename"), func(r *store.Resource) *store.Change { r.Name = "Staff 3"; return &store.Change{Resource: r} })
		}},
		{"a write without a policy", 0, 0, func() error {
			return update(store.KindUser, "u1", store.Write{Binding: fenced}, func(r *store.Resource) *store.Change { r.DisplayName = "Ada"; return &store.Change{Resource: r} })
		}},
		{"an admin's review", 1, 0, func() error {
			_, err := s.ReviewMember(ctx, org, "m3", false, store.AuditEvent{RequestID: "review", Action: "member.reject", Binding: fenced})
			return err
		}},
		{"held deprovisionings released", 0, 1, func() error {
			_, err := s.ReleaseDeprovisions(ctx, org, *p, store.AuditEvent{RequestID: "release", Action: "release", Binding: fenced})
			return err
		}},
		{"a user deleted", 1, 0, func() error { return s.Delete(ctx, org, store.KindUser, "m4", 0, fencedWrite(p, "delete")) }},
		{"a group deleted", 0, 1, func() error { return s.Delete(ctx, org, store.KindGroup, "g1", 0, fencedWrite(p, "delete")) }},
	} {
		few, all := sqlstore.MemberLocksTaken()
		if err := c.write(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		afterFew, afterAll := sqlstore.MemberLocksTaken()
		if afterFew-few != c.few || afterAll-all != c.all {
			t.Errorf("%s took %d members' locks and %d of the organization's, want %d and %d", c.name, afterFew-few, afterAll-all, c.few, c.all)
		}
	}
}
