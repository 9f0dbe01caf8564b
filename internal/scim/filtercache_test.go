package scim

import (
	"fmt"
	"strings"
	"testing"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/sizedlru"
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
			got, err := parseCached(f, "")
			if err != nil {
				t.Fatal(err)
			}
			if got.(interface{ String() string }).String() != want.(interface{ String() string }).String() {
				t.Fatalf("%s: cached %v, parsed %v", f, got, want)
			}
		}
	}
	if _, err := parseCached(`userName eq "unterminated`, ""); err == nil {
		t.Fatal("an unterminated string must not parse")
	}
	if _, err := parseCached(`userName eq "x" and (((`, ""); err == nil {
		t.Fatal("a syntax error must not hide behind a cached shape")
	}
}

// Whitespace outside quoted strings does not make a new shape: one entry serves all three.
func TestWhitespaceVariantsShareOneShape(t *testing.T) {
	before := shapes.Len()
	for _, f := range []string{"nickName eq \"a\"", "nickName   eq \"b\"", "nickName\teq  \"c  d\""} {
		e, err := parseCached(f, "")
		if err != nil {
			t.Fatal(err)
		}
		want := f[strings.IndexByte(f, '"')+1 : len(f)-1]
		if got := e.(*filter.AttributeExpression).CompareValue; got != want {
			t.Fatalf("%q: value %q, want %q (whitespace inside quotes is kept)", f, got, want)
		}
	}
	if n := shapes.Len() - before; n != 1 {
		t.Fatalf("%d shapes cached for one filter written three ways", n)
	}
}

// The shape cache is bounded by estimated bytes and entries, whatever shapes clients send (here
// a cache with small bounds, so the test parses few filters).
func TestFilterShapeCacheStaysWithinItsBounds(t *testing.T) {
	saved := shapes
	defer func() { shapes = saved }()
	const maxEntries, maxBytes = 50, 16 << 10
	shapes = sizedlru.New[string, cachedShape](maxEntries, maxBytes, func(_ string, s cachedShape) { shapeOwners.left(s.org, s.cost) })
	defer shapes.Purge() // the shares it holds go back
	for i := range 400 {
		// Distinct shapes (unquoted numbers stay in the shape), short ones and long ones, from
		// many organizations (each has a share of the cache).
		f := fmt.Sprintf("title eq %d", i) + strings.Repeat(` or userName pr`, i%12)
		if _, err := parseCached(f, fmt.Sprint("org-", i%10)); err != nil {
			t.Fatal(err)
		}
		if b, n := shapes.Bytes(), shapes.Len(); b > maxBytes || n > maxEntries {
			t.Fatalf("after %d shapes the cache holds %d entries of %d bytes; the bounds are %d and %d", i+1, n, b, maxEntries, maxBytes)
		}
	}
	// A shape still gives the right answer after so much eviction, cached or not.
	for range 2 {
		e, err := parseCached(`userName eq "x@example.com"`, "")
		if err != nil || e.(*filter.AttributeExpression).CompareValue != "x@example.com" {
			t.Fatalf("%v %v", e, err)
		}
	}
}

// The shape cache is shared by every organization: one cycling a thousand shapes within its
// rate limit parses its own every time past its share, and never pushes another's out.
func TestOneOrganizationCannotEvictAnothersFilterShapes(t *testing.T) {
	quiet := `emails[type eq "work" and value eq "ada@quiet.example"]`
	if _, err := parseCached(quiet, "quiet"); err != nil {
		t.Fatal(err)
	}
	shape, _ := splitValues(collapseSpace(quiet))
	if _, ok := shapes.Get(shape); !ok {
		t.Fatal("the quiet organization's shape was not cached")
	}
	for i := range 2 * maxFilterShapes {
		f := fmt.Sprintf("title eq %d", i) // distinct shapes: unquoted numbers stay in the shape
		if i%2 == 1 {                      // and long ones, each near the largest cached
			f += strings.Repeat(" or title eq "+strings.Repeat("9", 60), 50)
		}
		e, err := parseCached(f, "noisy")
		if err != nil || e == nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if _, ok := shapes.Get(shape); !ok {
		t.Fatal("the noisy organization's shapes pushed the quiet one's out of the cache")
	}
}
