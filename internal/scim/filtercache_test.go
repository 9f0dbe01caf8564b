package scim

import (
	"testing"

	filter "github.com/scim2/filter-parser/v2"
)

func TestCachedFiltersEqualFreshlyParsedOnes(t *testing.T) {
	for _, f := range []string{
		`userName eq "a@example.com"`,
		`userName eq "b@example.com"`, // same shape, other value
		`emails[type eq "work" and value co "@x"] or not (title pr)`,
		`displayName eq "Dave \"the\" Ops"`,
		`active eq true and meta.created gt "2026-01-01T00:00:00Z"`,
	} {
		want, err := filter.ParseFilter([]byte(f))
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second comes from the cache
			got, err := parseCached(f)
			if err != nil {
				t.Fatal(err)
			}
			if got.(interface{ String() string }).String() != want.(interface{ String() string }).String() {
				t.Fatalf("%s: cached %v, parsed %v", f, got, want)
			}
		}
	}
	if _, err := parseCached(`userName eq "unterminated`); err == nil {
		t.Fatal("an unterminated string must not parse")
	}
	if _, err := parseCached(`userName eq "x" and (((`); err == nil {
		t.Fatal("a syntax error must not hide behind a cached shape")
	}
}
