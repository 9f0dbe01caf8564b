package token

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

func TestSecretRoundTripAndRotation(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	first, _ := Generate()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{"other": "kept"}}, Data: map[string][]byte{"x": []byte("kept")}}
	Secret{Plaintext: first, Hash: Hash(first), IssuedAt: now, Rotation: 0, RotationKnown: true}.WriteTo(s)
	got := ReadSecret(s)
	if got.Plaintext != first || got.Hash != Hash(first) || !got.IssuedAt.Equal(now) || !got.RotationKnown || s.Annotations["other"] != "kept" ||
		string(s.Data["x"]) != "kept" {
		t.Fatalf("round trip: %+v %v", got, s)
	}
	got.Acknowledged, got.Plaintext = "revealed-by:ann", ""
	got.WriteTo(s)
	if _, ok := s.Data[v1alpha1.SecretKeyToken]; ok {
		t.Fatal("an acknowledged token keeps its plaintext")
	}
	second, _ := Generate()
	got.Rotate(second, 1, now.Add(time.Hour), now.Add(25*time.Hour))
	got.WriteTo(s)
	back := ReadSecret(s)
	if back.Hash != Hash(second) || back.PreviousHash != Hash(first) || !back.PreviousValidUntil.Equal(now.Add(25*time.Hour)) ||
		back.Acknowledged != "" || back.Rotation != 1 || back.Plaintext != second {
		t.Fatalf("after rotation: %+v", back)
	}
	third, _ := Generate()
	back.Rotate(third, 2, now.Add(2*time.Hour), time.Time{})
	back.WriteTo(s)
	if _, ok := s.Data[v1alpha1.SecretKeyPreviousSHA256]; ok {
		t.Fatal("a rotation without overlap keeps the previous hash")
	}
	if BroughtToken(&corev1.Secret{Data: map[string][]byte{"token": []byte("short")}}, "") != "" {
		t.Fatal("a brought token shorter than MinLength is accepted")
	}
}
