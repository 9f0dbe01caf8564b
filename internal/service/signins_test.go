package service

import (
	"context"
	"crypto/sha256"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func TestSignInGuardChargesFailuresPerSource(t *testing.T) {
	var g signInGuard
	now := time.Unix(1700000000, 0)
	for i := range failedSignInBurst {
		turn, refused := g.admit("10.0.0.1", now, false)
		if refused != nil {
			t.Fatalf("attempt %d refused within the burst: %v", i, refused)
		}
		turn.done(now, false, true)
	}
	_, refused := g.admit("10.0.0.1", now, false)
	if refused == nil || refused.RetryAfter <= 0 || refused.RetryAfter > time.Minute {
		t.Fatalf("over the burst the source is told %v", refused)
	}
	if turn, refused := g.admit("10.0.0.2", now, false); refused != nil {
		t.Fatal("another source is held back")
	} else {
		turn.done(now, false, true)
	}
	if _, refused := g.admit("10.0.0.1", now.Add(refused.RetryAfter), false); refused != nil {
		t.Fatal("the source still waits after Retry-After")
	}
}

func TestSignInGuardIsBoundedBySources(t *testing.T) {
	var g signInGuard
	now := time.Now()
	for i := range maxSignInSources + 500 {
		g.budget("src-"+strconv.Itoa(i), now)
	}
	if n := g.sources.Len(); n > maxSignInSources {
		t.Fatalf("%d sources kept, bound %d", n, maxSignInSources)
	}
}

func TestRetryAfterRoundsUpToWholeSeconds(t *testing.T) {
	if got := (&TooManySignIns{RetryAfter: 1500 * time.Millisecond}).RetryAfterSeconds(); got != 2 {
		t.Fatalf("Retry-After %d, want whole seconds rounded up", got)
	}
	if got := (&TooManySignIns{RetryAfter: time.Millisecond}).RetryAfterSeconds(); got != 1 {
		t.Fatalf("Retry-After %d, want at least 1", got)
	}
}

// The identity a cached token gives shares nothing with the cache: requests decode API answers
// into their identity's groups, concurrently, and must not write into another's.
func TestAnAcceptedTokensIdentityIsACopy(t *testing.T) {
	var a acceptedTokens
	key := [32]byte{1}
	a.add(key, Identity{User: "alice", Groups: []string{"admins"}, Extra: map[string][]string{"k": {"v"}}}, "10.0.0.1")
	who, ok := a.get(key)
	if !ok || !a.wasAccepted(key) {
		t.Fatal("an accepted token is not remembered")
	}
	who.Groups[0], who.Extra["k"][0] = "mallory", "x"
	again, _ := a.get(key)
	if again.Groups[0] != "admins" || again.Extra["k"][0] != "v" {
		t.Fatalf("a caller's change reached the cache: %+v", again)
	}
	if a.wasAccepted([32]byte{2}) {
		t.Fatal("a token never accepted is known")
	}
}

// A token accepted once and revoked since is charged to its source's budget again from its first
// refusal: were it still "known good", each of its requests would cost the API server a
// TokenReview for hours, whatever the budget.
func TestARevokedTokenIsChargedAgain(t *testing.T) {
	var reviews atomic.Int64
	k8s := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
			reviews.Add(1) // the API server's answer: the token is not (or no longer) valid
			obj.(*authenticationv1.TokenReview).Status.Authenticated = false
			return nil
		}}).Build()
	s := &Service{Client: k8s}
	s.accepted.init()
	revoked := "a-token-accepted-an-hour-ago"
	s.accepted.known.Add(sha256.Sum256([]byte(revoked)), struct{}{})
	limited := 0
	for range failedSignInBurst + 10 {
		_, ok, err := s.SignIn(context.Background(), "10.0.0.1", revoked)
		if ok {
			t.Fatal("a revoked token was accepted")
		}
		if e := (*TooManySignIns)(nil); errors.As(err, &e) {
			limited++
		}
	}
	if n := reviews.Load(); n != failedSignInBurst || limited != 10 {
		t.Fatalf("%d TokenReviews and %d refusals for the budget, want %d and 10", n, limited, failedSignInBurst)
	}
}

// One source adds at most maxKnownPerSource tokens to the known-good list, so a tenant signing
// in with thousands of its own valid tokens cannot push every admin's out of it (and then lock
// them out with bad tokens from the address they share). Its tokens still work; other sources'
// are kept.
func TestOneSourceHoldsItsShareOfTheKnownTokens(t *testing.T) {
	var a acceptedTokens
	admin := sha256.Sum256([]byte("the-admin's-token"))
	a.add(admin, Identity{User: "alice"}, "10.0.0.9")
	for i := range maxAcceptedTokens {
		a.add(sha256.Sum256([]byte("minted-"+strconv.Itoa(i))), Identity{User: "system:serviceaccount:evil:sa-" + strconv.Itoa(i)}, "10.0.0.66")
	}
	if !a.wasAccepted(admin) {
		t.Fatal("the admin's token was pushed out of the known list")
	}
	known := 0
	for i := range maxAcceptedTokens {
		if a.wasAccepted(sha256.Sum256([]byte("minted-" + strconv.Itoa(i)))) {
			known++
		}
	}
	if known != maxKnownPerSource {
		t.Fatalf("one source holds %d known tokens, want %d", known, maxKnownPerSource)
	}
	if _, ok := a.get(sha256.Sum256([]byte("minted-" + strconv.Itoa(maxAcceptedTokens-1)))); !ok {
		t.Fatal("a token past the source's share is not taken without another review")
	}
	a.add(admin, Identity{User: "alice"}, "10.0.0.66") // known already: kept whatever the source
	if !a.wasAccepted(admin) {
		t.Fatal("a known token was forgotten")
	}
}
