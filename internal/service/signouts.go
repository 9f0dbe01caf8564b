package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// SignOut ends who's wizard sessions issued before at, on every replica: a session is a signed
// cookie, and a copy of it (taken before the sign-out) would otherwise stay valid for its whole
// lifetime. keep is that lifetime: older sign-outs are forgotten.
func (s *Service) SignOut(ctx context.Context, who Identity, at time.Time, keep time.Duration) error {
	return s.Store.SignOut(ctx, signOutKey(who), at, keep)
}

// SignedOutAt returns when who last signed out of the wizard (zero: not within keep).
func (s *Service) SignedOutAt(ctx context.Context, who Identity) (time.Time, error) {
	return s.Store.SignedOutAt(ctx, signOutKey(who))
}

// signOutKey names an identity in the sign-out table: a hash of its user name and UID, so a row
// has one size whatever the name, and a re-created account (a new UID) starts anew.
func signOutKey(who Identity) string {
	h := sha256.Sum256([]byte(who.User + "\x00" + who.UID))
	return hex.EncodeToString(h[:])
}
