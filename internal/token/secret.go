package token

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// Secret is a generated token Secret's content: the one reader and writer of its format, for the
// controller that issues and rotates tokens, the data plane that accepts them and the admin
// service that reveals them.
type Secret struct {
	// Plaintext is the token until it is acknowledged ("" after).
	Plaintext string
	// Hash is the current token's hash; PreviousHash the rotated-out one's, valid until
	// PreviousValidUntil.
	Hash, PreviousHash string
	PreviousValidUntil time.Time
	// IssuedAt is when the current token was issued.
	IssuedAt time.Time
	// Rotation is the spec.token.rotation the token answers (ok false when the annotation is lost);
	// RotationRequest the rotate-token annotation it answers.
	Rotation        int64
	RotationKnown   bool
	RotationRequest string
	// Acknowledged is who acknowledged the plaintext ("" until then).
	Acknowledged string
	// LastUsedAt is when a replica last accepted the token (zero: unknown).
	LastUsedAt time.Time
}

// maxRotationRequest is the longest rotate-token annotation kept as it is (status.token's
// rotationRequest holds 64 characters); a longer one is kept as a hash of it. Kept whole, a long
// request failed the status write, and past its bound (128 bytes) the operator's cache of Secrets
// dropped it, so it never read as answered and every reconcile rotated the token again.
const maxRotationRequest = 64

// RotationRequestMark is what a token Secret and the integration's status keep of a rotate-token
// request: the request itself, or "sha256:" and 32 hex digits of its hash when it is longer.
func RotationRequestMark(request string) string {
	if len(request) <= maxRotationRequest {
		return request
	}
	sum := sha256.Sum256([]byte(request))
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// ReadSecret reads a generated token Secret.
func ReadSecret(s *corev1.Secret) Secret {
	a := s.Annotations
	out := Secret{
		Plaintext: string(s.Data[v1alpha1.SecretKeyToken]), Hash: string(s.Data[v1alpha1.SecretKeySHA256]),
		PreviousHash: string(s.Data[v1alpha1.SecretKeyPreviousSHA256]), RotationRequest: a[v1alpha1.AnnotationRotationRequest],
		Acknowledged: a[v1alpha1.AnnotationTokenAcknowledged],
	}
	out.PreviousValidUntil = parseTime(a[v1alpha1.AnnotationPreviousValidUntil])
	out.IssuedAt = parseTime(a[v1alpha1.AnnotationIssuedAt])
	out.LastUsedAt = parseTime(a[v1alpha1.AnnotationTokenLastUsedAt])
	if n, err := strconv.ParseInt(a[v1alpha1.AnnotationRotation], 10, 64); err == nil {
		out.Rotation, out.RotationKnown = n, true
	}
	return out
}

// WriteTo writes the content into s, leaving its other data and annotations alone.
func (t Secret) WriteTo(s *corev1.Secret) {
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	setData(s.Data, v1alpha1.SecretKeyToken, t.Plaintext)
	setData(s.Data, v1alpha1.SecretKeySHA256, t.Hash)
	setData(s.Data, v1alpha1.SecretKeyPreviousSHA256, t.PreviousHash)
	setTime(s.Annotations, v1alpha1.AnnotationPreviousValidUntil, t.PreviousValidUntil)
	setTime(s.Annotations, v1alpha1.AnnotationIssuedAt, t.IssuedAt)
	setTime(s.Annotations, v1alpha1.AnnotationTokenLastUsedAt, t.LastUsedAt)
	setAnnotation(s.Annotations, v1alpha1.AnnotationRotationRequest, t.RotationRequest, true)
	setAnnotation(s.Annotations, v1alpha1.AnnotationTokenAcknowledged, t.Acknowledged, false)
	if t.RotationKnown {
		s.Annotations[v1alpha1.AnnotationRotation] = strconv.FormatInt(t.Rotation, 10)
	}
}

// Rotate replaces the token with plaintext; the current one stays valid until overlapUntil (zero:
// not at all). The new token is not acknowledged and not used yet.
func (t *Secret) Rotate(plaintext string, rotation int64, now, overlapUntil time.Time) {
	t.PreviousHash, t.PreviousValidUntil = "", time.Time{}
	if !overlapUntil.IsZero() && ValidHash(t.Hash) {
		t.PreviousHash, t.PreviousValidUntil = t.Hash, overlapUntil
	}
	t.Plaintext, t.Hash = plaintext, Hash(plaintext)
	t.Rotation, t.RotationKnown, t.IssuedAt = rotation, true, now
	t.Acknowledged, t.LastUsedAt = "", time.Time{}
}

// BroughtToken is the token of a Secret the user brings (spec.token.secretRef), under key ("":
// the default key), or "" when it is shorter than MinLength.
func BroughtToken(s *corev1.Secret, key string) string {
	if key == "" {
		key = v1alpha1.SecretKeyToken
	}
	if v := string(s.Data[key]); len(v) >= MinLength {
		return v
	}
	return ""
}

func setData(m map[string][]byte, key, value string) {
	if value == "" {
		delete(m, key)
		return
	}
	m[key] = []byte(value)
}

// setAnnotation sets a value; an empty one is removed, or kept empty when keepEmpty (the
// rotation request: "" is itself an answer, to no request).
func setAnnotation(m map[string]string, key, value string, keepEmpty bool) {
	if value == "" && !keepEmpty {
		delete(m, key)
		return
	}
	m[key] = value
}

func setTime(m map[string]string, key string, t time.Time) {
	if t.IsZero() {
		delete(m, key)
		return
	}
	m[key] = t.UTC().Format(time.RFC3339)
}

func parseTime(v string) time.Time {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}
	}
	return t
}
