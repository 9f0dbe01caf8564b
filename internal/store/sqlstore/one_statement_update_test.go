package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// updateAfterRead is the SCIM handlers' read-prepare-write (internal/scim/update.go) with the read
// for an update, which on PostgreSQL reads the member too: the write then goes in one statement.
func updateAfterRead(s store.Store, org, id string, change func(next *store.Resource)) (*store.Resource, error) {
	current, err := s.GetForUpdate(context.Background(), org, store.KindUser, id)
	if err != nil {
		return nil, err
	}
	return writeRead(s, current, change, nil)
}

// writeRead writes change over a resource read earlier, under the default policy (or p).
func writeRead(s store.Store, current *store.Resource, change func(next *store.Resource), p *provisioning.Policy) (*store.Resource, error) {
	if p == nil {
		p = &provisioning.DefaultPolicy
	}
	next := *current
	change(&next)
	return s.Update(context.Background(), current, &store.Change{Resource: &next}, store.Write{Policy: p,
		Audit: &store.AuditEvent{Action: "scim.patch", Method: "PATCH", Path: "/scim/v2/Users/" + current.ID, Status: 200}})
}

// A user's update on PostgreSQL is one statement when nothing changed since its read, and what it
// stores (the user, member, employee record, history, audit rows, events and their snapshots) is
// what the usual way stores for the same update.
func TestPostgresUpdateIsOneStatementWhenNothingChangedSinceItsRead(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	org, p := userAndGroup(t, s, "one-statement-update")
	createUsers(t, s, org+"-usual", 1, &p)
	made, gaveUp := sqlstore.OneStatementUpdates(), sqlstore.SpeculationsGivenUp()
	deactivate := func(next *store.Resource) {
		next.Active = false
		next.Doc = []byte(`{"title":"Engineer","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D"}}`)
	}
	if _, err := updateAfterRead(s, org, "u0", deactivate); err != nil {
		t.Fatal(err)
	}
	if sqlstore.OneStatementUpdates() != made+1 || sqlstore.SpeculationsGivenUp() != gaveUp {
		t.Fatalf("the update was not one statement (%d made, %d given up)", sqlstore.OneStatementUpdates()-made, sqlstore.SpeculationsGivenUp()-gaveUp)
	}
	// The same update the usual way (a plain read: no member read with it).
	current, err := s.Get(ctx, org+"-usual", store.KindUser, "u0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeRead(s, current, deactivate, nil); err != nil {
		t.Fatal(err)
	}
	if sqlstore.OneStatementUpdates() != made+1 {
		t.Fatal("an update after a plain read was one statement")
	}
	// And with the snapshots read back after the write rather than built from it.
	createUsers(t, s, org+"-read-back", 1, &p)
	sqlstore.SetSnapshotsFromWrites(false)
	_, err = updateAfterRead(s, org+"-read-back", "u0", deactivate)
	sqlstore.SetSnapshotsFromWrites(true)
	if err != nil {
		t.Fatal(err)
	}
	one, usual, readBack := storedOf(t, s, org, "u0"), storedOf(t, s, org+"-usual", "u0"), storedOf(t, s, org+"-read-back", "u0")
	if !reflect.DeepEqual(one, usual) || !reflect.DeepEqual(one, readBack) {
		t.Fatalf("one statement stored\n%+v\nthe usual way\n%+v\nread back\n%+v", one, usual, readBack)
	}
	if one.user.Active || one.member.Member.State == provisioning.Active || one.member.Employee.Department != "R&D" || len(one.events) < 2 {
		t.Fatalf("the deactivation is not what was stored: %+v", one)
	}

	// A second update from the same read lost its race: the statement changed nothing, and the
	// usual way answers with the version mismatch.
	read, err := s.GetForUpdate(ctx, org, store.KindUser, "u0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeRead(s, read, func(next *store.Resource) { next.Active = true }, nil); err != nil {
		t.Fatal(err)
	}
	before := storedOf(t, s, org, "u0")
	gaveUp = sqlstore.SpeculationsGivenUp()
	if _, err := writeRead(s, read, func(next *store.Resource) { next.Active = false }, nil); !errors.Is(err, store.ErrVersionMismatch) {
		t.Fatalf("an update of a version another write replaced: %v, want a version mismatch", err)
	}
	if sqlstore.SpeculationsGivenUp() != gaveUp+1 {
		t.Fatal("the lost race was not given up")
	}
	if after := storedOf(t, s, org, "u0"); !reflect.DeepEqual(before, after) {
		t.Fatalf("the update that lost its race wrote\n%+v\nover\n%+v", after, before)
	}
}

// A member changed by another write after the read (an admin's role, a group's membership) is not
// overwritten with what the read saw: the statement's check fails, nothing of it is written, and
// the usual way reads the member again under its lock.
func TestPostgresUpdateInOneStatementKeepsWhatChangedSinceItsRead(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change string
	}{
		{"the member's role", `UPDATE members SET role = 'late-role' WHERE org = $1 AND user_id = 'u0'`},
		{"the user's groups", `INSERT INTO scim_group_members (org, group_id, member_id, member_type, display) VALUES ($1, 'g1', 'u0', 'User', 'user0')`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			org, _ := userAndGroup(t, s, "changed-since-read")
			read, err := s.GetForUpdate(ctx, org, store.KindUser, "u0")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.DB().ExecContext(ctx, tc.change, org); err != nil {
				t.Fatal(err)
			}
			gaveUp := sqlstore.SpeculationsGivenUp()
			if _, err := writeRead(s, read, func(next *store.Resource) { next.Active = false }, nil); err != nil {
				t.Fatal(err)
			}
			if sqlstore.SpeculationsGivenUp() != gaveUp+1 {
				t.Fatal("the update kept what it read before the change")
			}
			got := storedOf(t, s, org, "u0")
			last := got.events[len(got.events)-1].Data.Member
			if tc.name == "the member's role" && (got.member.Member.Role != "late-role" || last.Role != "late-role") {
				t.Fatalf("the role set after the read was overwritten: member %+v, snapshot %+v", got.member.Member, last)
			}
			if tc.name == "the user's groups" && (len(last.Groups) != 1 || last.Groups[0].ID != "g1") {
				t.Fatalf("the snapshot misses the group added after the read: %+v", last)
			}
		})
	}
}

// A write holding the member while the statement runs: the statement waits for it, sees that it
// changed the member, and writes nothing; the usual way then keeps what that write committed.
func TestPostgresUpdateInOneStatementAfterWaitingForTheMember(t *testing.T) {
	s, _ := replicas(t)
	org, _ := userAndGroup(t, s, "one-statement-wait")
	hold := holdRows(t, s, org, `UPDATE members SET role = 'late-role' WHERE org = $1 AND user_id = 'u0'`,
		`INSERT INTO scim_group_members (org, group_id, member_id, member_type, display) VALUES ($1, 'g1', 'u0', 'User', 'user0')`)
	gaveUp := sqlstore.SpeculationsGivenUp()
	done := make(chan error, 1)
	go func() {
		_, err := updateAfterRead(s, org, "u0", func(next *store.Resource) { next.Active = false })
		done <- err
	}()
	blockedOn(t, s)
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sqlstore.SpeculationsGivenUp() != gaveUp+1 {
		t.Fatal("the statement kept a member that changed while it waited")
	}
	got := storedOf(t, s, org, "u0")
	last := got.events[len(got.events)-1].Data.Member
	if got.member.Member.Role != "late-role" || last.Role != "late-role" || len(last.Groups) != 1 || got.member.Member.State == provisioning.Active {
		t.Fatalf("after waiting: member %+v, snapshot %+v", got.member.Member, last)
	}
}

// stored is what a user's write leaves, without what differs between two organizations' copies
// of one write (ids, times, request ids).
type stored struct {
	user   store.Resource
	member store.MemberRecord
	events []store.EventRecord
	audit  []string
}

func storedOf(t *testing.T, s *sqlstore.Store, org, id string) stored {
	t.Helper()
	ctx := context.Background()
	u, err := s.Get(ctx, org, store.KindUser, id)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Member(ctx, org, id)
	if err != nil {
		t.Fatal(err)
	}
	got := stored{user: *u, member: *m}
	var zero time.Time
	got.user.Org, got.user.Created, got.user.Modified = "", zero, zero
	got.member.Created, got.member.Modified = zero, zero
	for i := range got.member.History {
		got.member.History[i].Time, got.member.History[i].RequestID = zero, ""
	}
	for _, e := range eventsOf(t, s, org) {
		e.ID, e.Time, e.RequestID = "", zero, ""
		got.events = append(got.events, e)
	}
	events, err := s.AuditEvents(ctx, org, store.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		got.audit = append(got.audit, e.Action+" "+e.Method+" "+e.ResourceID)
	}
	return got
}

// The statement locks the user's row before the member, as every write locks them: while it waits
// for the user's row it holds no lock on the member.
func TestPostgresUpdateInOneStatementLocksTheUserBeforeTheMember(t *testing.T) {
	s, _ := replicas(t)
	org, _ := userAndGroup(t, s, "one-statement-order")
	hold := holdRows(t, s, org, `SELECT 1 FROM scim_users WHERE org = $1 AND id = 'u0' FOR UPDATE`)
	made := sqlstore.OneStatementUpdates()
	done := make(chan error, 1)
	go func() {
		_, err := updateAfterRead(s, org, "u0", func(next *store.Resource) { next.Active = false })
		done <- err
	}()
	blockedOn(t, s)
	if err := memberLockFree(t, s, org, "u0"); err != nil {
		t.Fatalf("an update waiting for the user's row already holds its member: %v", err)
	}
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sqlstore.OneStatementUpdates() != made+1 {
		t.Fatal("the update was not one statement")
	}
}

// A deactivation under the mass-deprovisioning guard needs the database before its end (the guard
// takes a lock and counts): it runs the usual way without trying one statement first, and the
// guard holds what passes its limit.
func TestPostgresUpdateUnderTheGuardRunsTheUsualWay(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	org := fmt.Sprintf("guarded-%d", time.Now().UnixNano())
	p := provisioning.Policy{AutoActivate: true, OnDeactivate: provisioning.Suspend, OnDelete: provisioning.Deactivate, DefaultRole: "member",
		MaxDeprovisionsPerHour: 1}
	createUsers(t, s, org, 2, &p)
	made, gaveUp := sqlstore.OneStatementUpdates(), sqlstore.SpeculationsGivenUp()
	for _, id := range []string{"u0", "u1"} {
		read, err := s.GetForUpdate(ctx, org, store.KindUser, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := writeRead(s, read, func(next *store.Resource) { next.Active = false }, &p); err != nil {
			t.Fatal(err)
		}
	}
	if sqlstore.OneStatementUpdates() != made || sqlstore.SpeculationsGivenUp() != gaveUp {
		t.Fatalf("under the guard: %d one statement, %d given up; want neither",
			sqlstore.OneStatementUpdates()-made, sqlstore.SpeculationsGivenUp()-gaveUp)
	}
	counts, err := s.MemberCounts(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	held, err := s.HeldDeprovisions(ctx, org)
	if err != nil {
		t.Fatal(err)
	}
	if counts["Suspended"] != 1 || counts["Active"] != 1 || held != 1 {
		t.Fatalf("the guard at 1 an hour: counts %v, %d held", counts, held)
	}
}
