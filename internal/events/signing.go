package events

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// keyPrefix marks a Standard Webhooks signing key.
const keyPrefix = "whsec_"

// minKeyBytes is the shortest key accepted: the spec asks for 24 to 64 random bytes.
const minKeyBytes = 24

// NewSigningKey returns a fresh key: "whsec_" and 32 random bytes in base64.
func NewSigningKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return keyPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// ErrBadSigningKey: a signing key is not "whsec_" and base64 of at least 24 bytes.
var ErrBadSigningKey = errors.New(`a signing key is "whsec_" followed by the base64 of 24 to 64 random bytes`)

// CheckSigningKey validates a key's form.
func CheckSigningKey(key string) error {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(key, keyPrefix))
	if !strings.HasPrefix(key, keyPrefix) || err != nil || len(raw) < minKeyBytes || len(raw) > 64 {
		return ErrBadSigningKey
	}
	return nil
}

// KeyFingerprint is a short, non-secret name for a key: 12 hex characters of its SHA-256.
func KeyFingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])[:12]
}

// Sign sets the Standard Webhooks headers of a request carrying body, with a signature by each
// key (the current one, and during a rotation the previous): a receiver that knows either
// accepts it.
func Sign(h http.Header, keys []string, id string, at time.Time, body []byte) error {
	if len(keys) == 0 {
		return ErrBadSigningKey
	}
	signatures := make([]string, 0, len(keys))
	for _, key := range keys {
		wh, err := standardwebhooks.NewWebhook(key)
		if err != nil {
			return err
		}
		signature, err := wh.Sign(id, at, body)
		if err != nil {
			return err
		}
		signatures = append(signatures, signature)
	}
	h.Set(standardwebhooks.HeaderWebhookID, id)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(at.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, strings.Join(signatures, " "))
	return nil
}
