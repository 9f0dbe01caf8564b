package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/store/storetest"
)

// An update reads its member ahead in the UPDATE's statement (update_row.go). These tests hold
// rows in a transaction of their own, as a concurrent write would, and watch the update wait.

// holdRows runs statements of org in a transaction left open, as a concurrent write holding
// their rows; the test commits it, or it is rolled back at the end.
func holdRows(t *testing.T, s *sqlstore.Store, org string, statements ...string) *sql.Tx {
	t.Helper()
	hold, err := s.DB().BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hold.Rollback() })
	for _, q := range statements {
		if _, err := hold.ExecContext(context.Background(), q, org); err != nil {
			t.Fatal(err)
		}
	}
	return hold
}

// blockedOn waits until a backend waits for a lock, and fails the test after 10 s.
func blockedOn(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	for range 1000 {
		var n int
		if err := s.DB().QueryRowContext(context.Background(),
			`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the update never waited for the held row")
}

// memberLockFree tries to lock a member without waiting: an error when another transaction holds it.
func memberLockFree(t *testing.T, s *sqlstore.Store, org, userID string) error {
	t.Helper()
	probe, err := s.DB().BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = probe.Rollback() }()
	_, err = probe.ExecContext(context.Background(), `SELECT 1 FROM members WHERE org = $1 AND user_id = $2 FOR UPDATE NOWAIT`, org, userID)
	return err
}

func deactivateAsync(s store.Store, org, id string, p *provisioning.Policy) chan error {
	done := make(chan error, 1)
	go func() {
		_, err := storetest.Update(context.Background(), s, org, store.KindUser, id, 0, func(cur *store.Resource) (*store.Change, error) {
			next := *cur
			next.Active = false
			return &store.Change{Resource: &next}, nil
		}, store.Write{Policy: p})
		done <- err
	}()
	return done
}

// The member is locked after the user's row, as every other write locks them (Delete, group
// writes): an update waiting for the user's row holds no lock on the member.
func TestPostgresReadAheadLocksTheUserBeforeTheMember(t *testing.T) {
	s, _ := replicas(t)
	org := fmt.Sprintf("order-%d", time.Now().UnixNano())
	p := provisioning.DefaultPolicy
	createUsers(t, s, org, 1, &p)
	hold := holdRows(t, s, org, `SELECT 1 FROM scim_users WHERE org = $1 AND id = 'u0' FOR UPDATE`)
	done := deactivateAsync(s, org, "u0", &p)
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
}

// A write that changed the member (and the user's groups) while the update waited for the member:
// the update's event snapshot shows what that write committed, not what the update's statement
// saw when it started.
func TestPostgresReadAheadAfterWaitingReadsAgain(t *testing.T) {
	s, _ := replicas(t)
	org, p := userAndGroup(t, s, "stale")
	hold := holdRows(t, s, org, `UPDATE members SET role = 'late-role' WHERE org = $1 AND user_id = 'u0'`,
		`INSERT INTO scim_group_members (org, group_id, member_id, member_type, display) VALUES ($1, 'g1', 'u0', 'User', 'user0')`)
	last := lastEventAfterWaiting(t, s, org, hold, func() chan error { return deactivateAsync(s, org, "u0", &p) })
	if m := last.Data.Member; m == nil || m.Role != "late-role" || len(m.Groups) != 1 || m.Groups[0].ID != "g1" {
		t.Fatalf("the deactivation's snapshot misses what committed while it waited: %+v", last.Data.Member)
	}
}

// A group's change of one member reads and locks the member in the change's statement
// (changeOneMember): it waits for a write holding the member, and its event then shows what that
// write committed, with the group the change added.
func TestPostgresGroupChangeOfOneMemberAfterWaitingReadsAgain(t *testing.T) {
	s, _ := replicas(t)
	org, p := userAndGroup(t, s, "stale-group")
	hold := holdRows(t, s, org, `UPDATE members SET role = 'late-role' WHERE org = $1 AND user_id = 'u0'`)
	last := lastEventAfterWaiting(t, s, org, hold, func() chan error {
		done := make(chan error, 1)
		go func() {
			_, err := storetest.Update(context.Background(), s, org, store.KindGroup, "g1", 0, func(cur *store.Resource) (*store.Change, error) {
				return &store.Change{Members: &store.MemberChange{Add: []string{"u0"}}}, nil
			}, store.Write{Policy: &p})
			done <- err
		}()
		return done
	})
	if m := last.Data.Member; last.Event.Type != provisioning.MembershipAdded || m == nil || m.Role != "late-role" || len(m.Groups) != 1 || m.Groups[0].ID != "g1" {
		t.Fatalf("the group change's snapshot misses what committed while it waited: %s %+v", last.Event.Type, last.Data.Member)
	}
}

// userAndGroup makes an organization with a user u0 under the default policy and an empty group g1.
func userAndGroup(t *testing.T, s *sqlstore.Store, prefix string) (string, provisioning.Policy) {
	t.Helper()
	org := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	p := provisioning.DefaultPolicy
	createUsers(t, s, org, 1, &p)
	now := time.Now().UTC().Truncate(time.Microsecond)
	g := &store.Resource{Org: org, Kind: store.KindGroup, ID: "g1", Name: "Team", Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
	if err := s.Create(context.Background(), g, nil, store.Write{}); err != nil {
		t.Fatal(err)
	}
	return org, p
}

// lastEventAfterWaiting starts a write, lets it wait for the rows hold holds, commits hold, and
// returns org's last event once the write is done; the write must have given its read-ahead up.
func lastEventAfterWaiting(t *testing.T, s *sqlstore.Store, org string, hold *sql.Tx, start func() chan error) store.EventRecord {
	t.Helper()
	givenUp := sqlstore.ReadAheadsGivenUp()
	done := start()
	blockedOn(t, s)
	if err := hold.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sqlstore.ReadAheadsGivenUp() == givenUp {
		t.Fatal("the read-ahead after waiting for the member was kept")
	}
	events := eventsOf(t, s, org)
	return events[len(events)-1]
}
