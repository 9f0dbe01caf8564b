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

// The organization fence (fence.go) on PostgreSQL, with writes really in flight: a deletion waits
// for the organization's writes and deletes what they wrote; a write that waited for a deletion
// is refused and writes nothing.

// fenced is the binding the tests' organizations are bound to.
var fenced = store.Binding{Claim: "claim-1", Integration: "integration-1"}

func fencedWrite(p *provisioning.Policy, request string) store.Write {
	return store.Write{Policy: p, Binding: fenced, Audit: &store.AuditEvent{RequestID: request, Action: request, Status: 200, Binding: fenced}}
}

func newUser(org, id, name string) *store.Resource {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &store.Resource{Org: org, Kind: store.KindUser, ID: id, Name: name, Active: true, Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
}

// boundWithAUser returns a new organization bound to fenced, with user u1 (ada).
func boundWithAUser(t *testing.T, s *sqlstore.Store, prefix string, p *provisioning.Policy) string {
	t.Helper()
	org := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	if err := s.BindOrganization(context.Background(), org, fenced, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(context.Background(), newUser(org, "u1", "ada"), nil, fencedWrite(p, "seed")); err != nil {
		t.Fatal(err)
	}
	return org
}

// waitUntil polls query (a count, with args) until it is positive; it fails if done has a result
// first. Queries name what the test itself waits for: other packages share the server.
func waitUntil(t *testing.T, s *sqlstore.Store, what string, done chan error, query string, args ...any) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("finished before %s: %v", what, err)
		default:
		}
		var n int
		if err := s.DB().QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// waitingForTheFence counts transactions waiting for the fence of an organization (its argument;
// pg_locks shows the lock's key, hashtext's int4, as an unsigned oid).
const waitingForTheFence = `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 7316236 AND objsubid = 2 AND NOT granted
	AND objid::bigint = (hashtext($1)::bigint + 4294967296) % 4294967296`

// leftRows fails when any table still holds rows of org.
func leftRows(t *testing.T, s *sqlstore.Store, org string) {
	t.Helper()
	for _, table := range sqlstore.OrganizationTables(s) {
		var n int
		if err := s.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM `+table+` WHERE org = $1`, org).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			t.Errorf("%d rows of the deleted organization are left in %s", n, table)
		}
	}
}

func TestPostgresADeletionWaitsForTheOrganizationsWritesInFlight(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	org := fmt.Sprintf("fence-inflight-%d", time.Now().UnixNano())
	p := &provisioning.Policy{AutoActivate: true}
	if err := s.BindOrganization(ctx, org, fenced, ""); err != nil {
		t.Fatal(err)
	}
	// Another transaction holds the userName the create inserts: the create waits on the unique
	// index, in its one statement, past its fence.
	blocker, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = blocker.Rollback() })
	if _, err := blocker.ExecContext(ctx, `INSERT INTO scim_users (org, id, name, name_lower, active, doc, created_us, modified_us, version)
		VALUES ($1, 'blocker', 'ada', 'ada', true, '{}', 0, 0, 1)`, org); err != nil {
		t.Fatal(err)
	}
	var blockerXID string
	if err := blocker.QueryRowContext(ctx, `SELECT pg_current_xact_id()::text`).Scan(&blockerXID); err != nil {
		t.Fatal(err)
	}
	oneStatement := sqlstore.OneStatementCreates()
	created := make(chan error, 1)
	go func() { created <- s.Create(ctx, newUser(org, "u1", "ada"), nil, fencedWrite(p, "create")) }()
	waitUntil(t, s, "the create waits for the userName", created,
		`SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted AND transactionid::text = $1`, blockerXID)

	deleted := make(chan error, 1)
	go func() { deleted <- s.DeleteOrganization(ctx, org, fenced) }()
	waitUntil(t, s, "the deletion waits for the write in flight", deleted, waitingForTheFence, org)
	if err := blocker.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-created; err != nil {
		t.Fatalf("the write in flight: %v", err)
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	if sqlstore.OneStatementCreates() == oneStatement {
		t.Fatal("the create did not take its one statement")
	}
	leftRows(t, s, org)
}

func TestPostgresAWriteThatWaitedForADeletionWritesNothing(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	p := &provisioning.Policy{AutoActivate: true}
	writes := []struct {
		name    string
		write   func(org string) error
		counter func() int64 // counts the write's own path, when it has one
	}{
		{"a create in one statement", func(org string) error {
			return s.Create(ctx, newUser(org, "u2", "bob"), nil, fencedWrite(p, "create"))
		}, sqlstore.OneStatementsSent},
		{"an update in one statement", func(org string) error {
			cur, err := s.GetForUpdate(ctx, org, store.KindUser, "u1")
			if err != nil {
				return err
			}
			next := *cur
			next.Active = false
			_, err = s.Update(ctx, cur, &store.Change{Resource: &next}, fencedWrite(p, "deactivate"))
			return err
		}, sqlstore.OneStatementsSent},
		{"a group's create in a transaction", func(org string) error {
			return s.Create(ctx, &store.Resource{Org: org, Kind: store.KindGroup, ID: "g2", Name: "Staff", Doc: []byte(`{}`), Version: 1},
				[]string{"u1"}, fencedWrite(p, "create-group"))
		}, nil},
		{"a delete", func(org string) error { return s.Delete(ctx, org, store.KindUser, "u1", 0, fencedWrite(p, "delete")) }, nil},
		{"a review", func(org string) error {
			_, err := s.ReviewMember(ctx, org, "u1", true, store.AuditEvent{RequestID: "review", Action: "member.approve", Binding: fenced})
			return err
		}, nil},
		{"read audit events", func(org string) error {
			err := s.RecordAudit(ctx, []store.AuditEvent{{Org: org, RequestID: "read", Action: "users.list", Status: 200, Binding: fenced}})
			if err == nil {
				err = store.ErrOrganizationReleased // dropped, not refused: leftRows checks
			}
			return err
		}, nil},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			org := boundWithAUser(t, s, "fence-after", p)
			locked, release := make(chan struct{}), make(chan struct{})
			sqlstore.SetAfterOrganizationLocked(func() { close(locked); <-release })
			deleted := make(chan error, 1)
			go func() { deleted <- s.DeleteOrganization(ctx, org, fenced) }()
			<-locked
			var before int64
			if w.counter != nil {
				before = w.counter()
			}
			givenUp := sqlstore.SpeculationsGivenUp()
			written := make(chan error, 1)
			go func() { written <- w.write(org) }()
			waitUntil(t, s, "the write waits for the deletion", written, waitingForTheFence, org)
			close(release)
			if err := <-deleted; err != nil {
				t.Fatal(err)
			}
			if err := <-written; !errors.Is(err, store.ErrOrganizationReleased) {
				t.Fatalf("the write after the deletion: %v, want ErrOrganizationReleased", err)
			}
			// Sent as one statement, which waited at the fence, found the owner gone and was
			// given up; the usual way refused it.
			if w.counter != nil && (w.counter() != before+1 || sqlstore.SpeculationsGivenUp() != givenUp+1) {
				t.Fatal("the write did not wait at the fence in its one statement")
			}
			leftRows(t, s, org)
		})
	}
}

// An administrator moved the organization's data to another claim (adoptDataOf) while an update
// under the old claim waited at the fence: the update's one statement finds the owner changed, and
// nothing of it is written (the rows are still there: only the owner check can refuse it).
func TestPostgresAnUpdateThatWaitedForAnAdoptionWritesNothing(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	p := &provisioning.Policy{AutoActivate: true}
	org := boundWithAUser(t, s, "fence-adopted", p)
	cur, err := s.GetForUpdate(ctx, org, store.KindUser, "u1")
	if err != nil {
		t.Fatal(err)
	}
	locked, release := make(chan struct{}), make(chan struct{})
	sqlstore.SetAfterOrganizationLocked(func() { close(locked); <-release })
	adopted := make(chan error, 1)
	go func() {
		adopted <- s.BindOrganization(ctx, org, store.Binding{Claim: "claim-2", Integration: "integration-2"}, fenced.Claim)
	}()
	<-locked
	sent, givenUp := sqlstore.OneStatementsSent(), sqlstore.SpeculationsGivenUp()
	updated := make(chan error, 1)
	go func() {
		next := *cur
		next.Active = false
		_, err := s.Update(ctx, cur, &store.Change{Resource: &next}, fencedWrite(p, "deactivate"))
		updated <- err
	}()
	waitUntil(t, s, "the update waits for the adoption", updated, waitingForTheFence, org)
	close(release)
	if err := <-adopted; err != nil {
		t.Fatal(err)
	}
	if err := <-updated; !errors.Is(err, store.ErrOrganizationReleased) {
		t.Fatalf("the update under the old claim: %v, want ErrOrganizationReleased", err)
	}
	if sqlstore.OneStatementsSent() != sent+1 || sqlstore.SpeculationsGivenUp() != givenUp+1 {
		t.Fatal("the update did not wait at the fence in its one statement")
	}
	if u, err := s.Get(ctx, org, store.KindUser, "u1"); err != nil || !u.Active || u.Version != 1 {
		t.Fatalf("the refused update changed the user: %+v %v", u, err)
	}
	if events, err := s.Events(ctx, org, 0, 10); err != nil || len(events) != 1 {
		t.Fatalf("the refused update emitted events: %+v %v", events, err)
	}
}
