package scim

import (
	"reflect"
	"testing"
)

// The fast reading of `attribute op "value"` is exactly the general path's reading; every other
// form is left to the general path.
func TestSimpleComparisonsReadAsTheParserReadsThem(t *testing.T) {
	read := []string{
		`userName eq "bjensen@example.com"`,
		`  externalId eq "00u1abc"  `,
		`userName EQ "Upper"`,
		`name.familyName Sw "Jen"`,
		`emails.value co "@example.com"`,
		`displayName eq ""`,
		`displayName eq "Dave \"the\" Ops"`,
		`displayName eq "tab\tand \u00E9 and \\ and \/"`,
		`userName eq "ünïcödé ☃"`,
		`meta.lastModified gt "2026-01-01T00:00:00Z"`,
		`$ref eq "x"`, `members.$ref eq "x"`, `employee-number_2 le "9"`,
	}
	for _, text := range read {
		fast, ok := simpleComparison(text)
		if !ok {
			t.Errorf("%q: not read by the fast path", text)
			continue
		}
		normalized, _ := normalizeFilter(text)
		general, err := parseCached(normalized, "")
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if !reflect.DeepEqual(fast, general) {
			t.Errorf("%q: fast %#v, general %#v", text, fast, general)
		}
	}
	for _, text := range []string{
		`userName eq bare`, `userName  eq "two spaces"`, "userName\teq \"tab\"", `userName eq "a" and active eq true`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, `emails[type eq "work"]`, `userName pr`,
		`userName eq true`, `userName eq 1`, `userName xx "x"`, `user.name.x eq "x"`, `1user eq "x"`, `us$er eq "x"`,
		`userName eq "bad \q escape"`, `userName eq "unterminated`, `userName eq "a"b"`, `userName eq "a\"`,
		"userName eq \"control\x01\"", `(userName eq "x")`, `not (userName eq "x")`, `userName eq"x"`, `eq "x"`,
	} {
		if expr, ok := simpleComparison(text); ok {
			t.Errorf("%q: read by the fast path as %#v", text, expr)
		}
	}
}
