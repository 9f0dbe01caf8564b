package storetest

import (
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// testSignOuts: a user's latest sign-out is kept (one row a user), others' are apart, and a
// sign-out older than the sessions' lifetime is forgotten by the next one recorded.
func testSignOuts(t *testing.T, s store.Store) {
	user, other := newOrg()+"-user", newOrg()+"-other"
	first := time.Now().Add(-10 * time.Hour).Truncate(time.Microsecond)
	must(t, s.SignOut(ctx, other, first, 8*time.Hour))
	at := time.Now().Truncate(time.Microsecond)
	must(t, s.SignOut(ctx, user, at.Add(-time.Minute), 8*time.Hour))
	must(t, s.SignOut(ctx, user, at, 8*time.Hour))
	got, err := s.SignedOutAt(ctx, user)
	must(t, err)
	if !got.Equal(at) {
		t.Fatalf("signed out at %v, want the latest, %v", got, at)
	}
	if got, err := s.SignedOutAt(ctx, other); err != nil || !got.IsZero() {
		t.Fatalf("a sign-out older than the sessions' lifetime is kept: %v (%v)", got, err)
	}
	if got, err := s.SignedOutAt(ctx, newOrg()+"-never"); err != nil || !got.IsZero() {
		t.Fatalf("a user who never signed out: %v (%v)", got, err)
	}
}
