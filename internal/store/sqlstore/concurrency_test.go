package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/store/storetest"
)

// Two store instances on one PostgreSQL database stand in for two replicas; many goroutines on
// each write at once. These tests fail when the guard, release or review is not serialised.

func replicas(t *testing.T) (a, b *sqlstore.Store) {
	t.Helper()
	dsn := os.Getenv("EIO_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("EIO_TEST_POSTGRES_DSN is not set; make test starts a throwaway PostgreSQL server and sets it")
	}
	open := func() *sqlstore.Store {
		s, err := sqlstore.OpenPostgres(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	return open(), open()
}

// createUsers creates n active users named u0…u(n-1).
func createUsers(t *testing.T, s store.Store, org string, n int, p *provisioning.Policy) {
	t.Helper()
	for i := range n {
		now := time.Now().UTC().Truncate(time.Microsecond)
		r := &store.Resource{Org: org, Kind: store.KindUser, ID: fmt.Sprintf("u%d", i), Name: fmt.Sprintf("user%d", i), Active: true,
			Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
		if err := s.Create(context.Background(), r, nil, store.Write{Policy: p}); err != nil {
			t.Fatal(err)
		}
	}
}

// parallel runs fn(i) for i in [0, n) at once, alternating the two replicas.
func parallel(t *testing.T, n int, a, b store.Store, fn func(s store.Store, i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- fn(s, i)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func deactivate(s store.Store, org string, i int, p *provisioning.Policy) error {
	_, err := storetest.Update(context.Background(), s, org, store.KindUser, fmt.Sprintf("u%d", i), 0, func(cur *store.Resource) (*store.Change, error) {
		next := *cur
		next.Active = false
		return &store.Change{Resource: &next}, nil
	}, store.Write{Policy: p})
	return err
}

func TestPostgresGuardNeverExceedsItsLimit(t *testing.T) {
	a, b := replicas(t)
	org := fmt.Sprintf("guard-%d", time.Now().UnixNano())
	p := &provisioning.Policy{AutoActivate: true, OnDeactivate: provisioning.Suspend, OnDelete: provisioning.Deactivate, MaxDeprovisionsPerHour: 5}
	const users = 40
	createUsers(t, a, org, users, p)
	parallel(t, users, a, b, func(s store.Store, i int) error { return deactivate(s, org, i, p) })
	counts, err := a.MemberCounts(context.Background(), org)
	if err != nil {
		t.Fatal(err)
	}
	held, err := b.HeldDeprovisions(context.Background(), org)
	if err != nil {
		t.Fatal(err)
	}
	if counts["Suspended"] != 5 || held != users-5 {
		t.Fatalf("maxPerHour 5 with %d concurrent deactivations: %d suspended, %d held", users, counts["Suspended"], held)
	}
	checkEventSequence(t, a, org)
}

func TestPostgresReleaseLosesNoHold(t *testing.T) {
	a, b := replicas(t)
	org := fmt.Sprintf("release-%d", time.Now().UnixNano())
	p := &provisioning.Policy{AutoActivate: true, OnDeactivate: provisioning.Suspend, OnDelete: provisioning.Deactivate, MaxDeprovisionsPerHour: 1}
	const users = 40
	createUsers(t, a, org, users, p)
	// Deactivations (most of them held) race with admins releasing on both replicas.
	parallel(t, users+10, a, b, func(s store.Store, i int) error {
		if i >= users {
			_, err := s.ReleaseDeprovisions(context.Background(), org, *p, store.AuditEvent{RequestID: "release", Action: "deprovisioning.release"})
			return err
		}
		return deactivate(s, org, i, p)
	})
	if _, err := a.ReleaseDeprovisions(context.Background(), org, *p, store.AuditEvent{RequestID: "last", Action: "deprovisioning.release"}); err != nil {
		t.Fatal(err)
	}
	counts, err := a.MemberCounts(context.Background(), org)
	if err != nil {
		t.Fatal(err)
	}
	if counts["Suspended"] != users || counts["Active"] != 0 {
		t.Fatalf("after the last release every deactivated user is suspended: %v", counts)
	}
	checkEventSequence(t, a, org)
}

func TestPostgresApprovalNeverOverwritesASuspension(t *testing.T) {
	a, b := replicas(t)
	org := fmt.Sprintf("review-%d", time.Now().UnixNano())
	p := &provisioning.Policy{AutoActivate: false, OnDeactivate: provisioning.Deactivate, OnDelete: provisioning.Deactivate}
	const users = 30
	createUsers(t, a, org, users, p)
	// Each member is approved by an admin on one replica while the IdP deactivates it on the
	// other. In either order the member ends Deactivated; an approval that read the member
	// before the deactivation committed and wrote after it would leave it Active.
	parallel(t, 2*users, a, b, func(s store.Store, i int) error {
		if i%2 == 0 {
			_, err := s.ReviewMember(context.Background(), org, fmt.Sprintf("u%d", i/2), true, store.AuditEvent{RequestID: "approve", Action: "member.approve"})
			return err
		}
		return deactivate(s, org, i/2, p)
	})
	counts, err := a.MemberCounts(context.Background(), org)
	if err != nil {
		t.Fatal(err)
	}
	if counts["Deactivated"] != users {
		t.Fatalf("approvals raced deactivations: %v", counts)
	}
	checkEventSequence(t, a, org)
}

// checkEventSequence checks that an organization's events are numbered 1…n without gaps.
func checkEventSequence(t *testing.T, s store.Store, org string) {
	t.Helper()
	var after int64
	for {
		page, err := s.Events(context.Background(), org, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if e.Seq != after+1 {
				t.Fatalf("event %d follows %d", e.Seq, after)
			}
			after = e.Seq
		}
	}
	if after == 0 {
		t.Fatal("no events")
	}
}
