package token

import (
	"strings"
	"testing"
)

func TestGeneratedTokensAreUniquePrefixedAndMatchTheirHash(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, Prefix) || len(tok) < len(Prefix)+43 {
			t.Fatalf("token %q lacks the prefix or 256 bits", Fingerprint(Hash(tok)))
		}
		if seen[tok] {
			t.Fatal("a token was generated twice")
		}
		seen[tok] = true
		h := Hash(tok)
		if !ValidHash(h) || !Matches(tok, h) {
			t.Fatal("a token does not match its own hash")
		}
		if Matches(tok+"x", h) || Matches(tok, "zz") {
			t.Fatal("a different token or a malformed hash matched")
		}
	}
}

func TestFingerprintIsAShortPrefixOfTheHash(t *testing.T) {
	h := Hash("example-token-example-token-example")
	if got := Fingerprint(h); got != h[:12] {
		t.Fatalf("fingerprint %q, want %q", got, h[:12])
	}
}
