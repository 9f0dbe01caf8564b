package service

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// acceptedTokenTTL is how long a token the API server accepted is taken without another
// TokenReview, and maxAcceptedTokens how many are remembered (by their SHA-256, never the token).
// An admin API script's calls cost one review a TTL rather than one each, and a token known good
// is not refused because its source's failure budget is spent: behind one ingress every client
// shares an address, and a flood of bad tokens would otherwise lock every admin out. A revoked
// token stops working within the TTL, as with the API server's own token cache.
//
// A token accepted within knownTokenTTL is reviewed again (after acceptedTokenTTL) whatever its
// source's failure budget, so an admin at work keeps working through a flood that lasts longer.
//
// One source adds at most maxKnownPerSource tokens to the known list within knownTokenTTL: a
// tenant minting thousands of valid tokens for its own service accounts could otherwise push
// every admin's out of it, then lock them out with a few bad tokens from the address they share.
const (
	acceptedTokenTTL  = 30 * time.Second
	knownTokenTTL     = 8 * time.Hour
	maxAcceptedTokens = 4096
	maxKnownPerSource = 64
)

// acceptedTokens remembers recently accepted tokens' identities, and for longer that they were
// accepted.
type acceptedTokens struct {
	once  sync.Once
	cache *expirable.LRU[[sha256.Size]byte, Identity]
	known *expirable.LRU[[sha256.Size]byte, struct{}]
	// bySource counts, per source, the tokens it added to known within knownTokenTTL.
	mu       sync.Mutex
	bySource *expirable.LRU[string, int]
}

func (a *acceptedTokens) init() {
	a.once.Do(func() {
		a.cache = expirable.NewLRU[[sha256.Size]byte, Identity](maxAcceptedTokens, nil, acceptedTokenTTL)
		a.known = expirable.NewLRU[[sha256.Size]byte, struct{}](maxAcceptedTokens, nil, knownTokenTTL)
		a.bySource = expirable.NewLRU[string, int](maxAcceptedTokens, nil, knownTokenTTL)
	})
}

// get returns a copy of the identity accepted a moment ago: callers hand its groups to API
// requests whose decoding may write into them.
func (a *acceptedTokens) get(key [sha256.Size]byte) (Identity, bool) {
	a.init()
	who, ok := a.cache.Get(key)
	return who.clone(), ok
}

// wasAccepted says whether the token was accepted within knownTokenTTL.
func (a *acceptedTokens) wasAccepted(key [sha256.Size]byte) bool {
	a.init()
	return a.known.Contains(key)
}

// forget drops a token the API server no longer accepts (revoked, expired): it is charged to
// its source's budget again, or one revoked token would buy a TokenReview per request for hours.
func (a *acceptedTokens) forget(key [sha256.Size]byte) {
	a.init()
	a.cache.Remove(key)
	a.known.Remove(key)
}

// add remembers an accepted token; as known good only within its source's share.
func (a *acceptedTokens) add(key [sha256.Size]byte, who Identity, source string) {
	a.init()
	a.cache.Add(key, who.clone())
	if a.known.Contains(key) {
		a.known.Add(key, struct{}{}) // its TTL starts again
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n, _ := a.bySource.Get(source)
	if n >= maxKnownPerSource {
		return
	}
	a.bySource.Add(source, n+1)
	a.known.Add(key, struct{}{})
}

// SignIn checks a Kubernetes token presented from a source address (the wizard's sign-in form,
// an admin API bearer token), refusing with *TooManySignIns a source whose failed attempts are
// over budget, unless the token was accepted within knownTokenTTL, or while too many reviews are
// in flight (signin_guard.go). A review that fails is an *Error (503), logged by reviewFailed.
func (s *Service) SignIn(ctx context.Context, source, tok string) (Identity, bool, error) {
	if tok == "" {
		return Identity{}, false, nil
	}
	key := sha256.Sum256([]byte(tok))
	if who, ok := s.accepted.get(key); ok {
		return who, true, nil
	}
	turn, refused := s.signIns.admit(source, time.Now(), s.accepted.wasAccepted(key))
	if refused != nil {
		return Identity{}, false, refused
	}
	var who Identity
	var ok bool
	var err error
	defer func() { turn.done(time.Now(), err == nil && ok, err == nil && !ok) }() // a panic too ends the turn
	review, cancel := context.WithTimeout(ctx, signInReviewTimeout)
	defer cancel()
	who, ok, err = s.AuthenticateToken(review, tok)
	switch {
	case err == nil && ok:
		s.accepted.add(key, who, source)
	case err == nil:
		s.accepted.forget(key)
	}
	if e := (*Error)(nil); err != nil && !errors.As(err, &e) {
		return Identity{}, false, s.reviewFailed(ctx, err)
	}
	return who, ok, err
}

// AuthenticateToken checks a Kubernetes bearer token with a TokenReview. The identity keeps the
// review's UID and extras; a Kubernetes system identity other than a service account is refused
// (an *Error), and "system:" groups are kept only as identity.go's rule says.
func (s *Service) AuthenticateToken(ctx context.Context, tok string) (Identity, bool, error) {
	if tok == "" {
		return Identity{}, false, nil
	}
	review := &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tok}}
	if err := s.Client.Create(ctx, review); err != nil {
		return Identity{}, false, err
	}
	if !review.Status.Authenticated {
		return Identity{}, false, nil
	}
	who, err := reviewedIdentity(review.Status.User)
	if err != nil {
		return Identity{}, false, err
	}
	return who, true, nil
}
