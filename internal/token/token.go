// Package token generates SCIM bearer tokens and the hashes that stand in for them everywhere
// except the moment they are shown once.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// Prefix marks generated tokens so secret scanners can recognise a leaked one.
const Prefix = "eio_scim_"

// MinLength is the shortest bring-your-own token accepted.
const MinLength = 32

// Generate returns a new token carrying 256 random bits.
func Generate() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random bytes for a token: %w", err)
	}
	return Prefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Hash is the hex SHA-256 of a token, the only form kept once the token was acknowledged.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Fingerprint is a short, non-secret name for a token: the first 12 hex characters of its hash.
func Fingerprint(hash string) string {
	if len(hash) < 12 {
		return hash
	}
	return hash[:12]
}

// Matches compares a presented token with a stored hex hash in constant time.
func Matches(presented, hash string) bool {
	want, err := hex.DecodeString(hash)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// ValidHash reports whether s is a hex SHA-256.
func ValidHash(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}
