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

// A create that waits for another write (a delete of the same userName, in flight) is numbered
// after it, and does not hold back other organizations' numbering while it waits: its events take
// their positions after its INSERT (decision 0013's gap rule), on the one-statement path as on the
// usual one. Found in review: PostgreSQL ran the events' WITH query before the user's INSERT.
func TestPostgresCreateWaitingForAUserNameIsNumberedAfterWhatItWaitedFor(t *testing.T) {
	for _, oneStatement := range []bool{false, true} {
		t.Run(fmt.Sprintf("one statement %v", oneStatement), func(t *testing.T) {
			sqlstore.SetSnapshotsFromWrites(oneStatement) // off: snapshots read back, the usual path
			defer sqlstore.SetSnapshotsFromWrites(true)
			s, _ := replicas(t)
			ctx := context.Background()
			org := fmt.Sprintf("wait-order-%d", time.Now().UnixNano())
			p := &provisioning.Policy{AutoActivate: true}
			now := time.Now().UTC().Truncate(time.Microsecond)
			old := &store.Resource{Org: org, Kind: store.KindUser, ID: "old", Name: "alice", Active: true, Doc: []byte(`{}`),
				Created: now, Modified: now, Version: 1}
			if err := s.Create(ctx, old, nil, store.Write{Policy: p}); err != nil {
				t.Fatal(err)
			}
			_ = eventsOf(t, s, org)
			// A delete of the old alice in flight: its row is gone, its event comes at its end.
			del := holdRows(t, s, org, `DELETE FROM scim_users WHERE org = $1 AND id = 'old'`)
			made := sqlstore.OneStatementCreates()
			done := make(chan error, 1)
			go func() {
				r := &store.Resource{Org: org, Kind: store.KindUser, ID: "new", Name: "alice", Active: true, Doc: []byte(`{}`),
					Created: now, Modified: now, Version: 1}
				done <- s.Create(ctx, r, nil, store.Write{Policy: p})
			}()
			blockedOn(t, s)
			// Another organization's create commits and is numbered while the new alice waits.
			other := org + "-other"
			createUsers(t, s, other, 1, p)
			short, cancel := context.WithTimeout(ctx, 3*time.Second)
			got, err := s.Events(short, other, 0, 10)
			cancel()
			if len(got) != 1 {
				t.Fatalf("another organization's committed create, while a create waits: %d events numbered (%v), want 1", len(got), err)
			}
			if _, err := del.ExecContext(ctx, `INSERT INTO provisioning_event_rows (org, id, type, subject, at_us) VALUES ($1, 'evt-delete', 'member.suspended', 'old', $2)`,
				org, time.Now().UnixMicro()); err != nil {
				t.Fatal(err)
			}
			if err := del.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if oneStatement != (sqlstore.OneStatementCreates() > made) {
				t.Fatalf("the create did not take the path under test (one statement: %v)", oneStatement)
			}
			var deleted, created int64
			for _, e := range eventsOf(t, s, org) {
				switch {
				case e.Event.Subject == "old" && e.Event.Type == "member.suspended":
					deleted = e.Seq
				case e.Event.Subject == "new":
					created = e.Seq
				}
			}
			if deleted == 0 || created < deleted {
				t.Errorf("the new alice's provisioning (seq %d) is numbered before the delete it waited for (seq %d)", created, deleted)
			}
		})
	}
}
