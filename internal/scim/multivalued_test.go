package scim

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestValueKeyIsCanonical(t *testing.T) {
	same := [][2]any{
		{map[string]any{"value": "a", "type": "work"}, map[string]any{"type": "work", "value": "a"}},
		{json.Number("1"), float64(1)},
		{json.Number("1.0"), json.Number("1")},
		{[]any{"a", map[string]any{"x": true}}, []any{"a", map[string]any{"x": true}}},
	}
	for _, p := range same {
		if valueKey(p[0]) != valueKey(p[1]) {
			t.Errorf("%#v and %#v have different keys", p[0], p[1])
		}
	}
	distinct := []any{nil, true, false, "1", float64(1), "", []any{}, map[string]any{}, []any{"a", "b"}, []any{"ab"},
		map[string]any{"a": "b"}, map[string]any{"ab": ""}, map[string]any{"a": "b", "c": "d"}, map[string]any{"a": "bc", "": "d"}}
	seen := map[string]any{}
	for _, v := range distinct {
		k := valueKey(v)
		if prev, ok := seen[k]; ok {
			t.Errorf("%#v and %#v share the key %q", prev, v, k)
		}
		seen[k] = v
	}
}

// The member delta keeps the semantics (and order) of the slice-based one it replaced.
func TestMemberDeltaSemantics(t *testing.T) {
	d := &memberDelta{}
	for _, step := range []struct{ op, id string }{
		{"add", "a"}, {"add", "b"}, {"add", "a"}, {"remove", "a"}, {"remove", "c"}, {"add", "a"}, {"add", "c"}, {"remove", "d"}, {"remove", "d"},
	} {
		if step.op == "add" {
			d.addID(step.id)
		} else {
			d.removeID(step.id)
		}
	}
	c := d.change()
	if c.Replace || !slices.Equal(c.Add, []string{"b", "a", "c"}) || !slices.Equal(c.Remove, []string{"d"}) {
		t.Fatalf("change %+v", c)
	}
	d.replaceAll()
	d.addID("x")
	d.removeID("y") // nothing to remove from a replaced list
	if c := d.change(); !c.Replace || !slices.Equal(c.Add, []string{"x"}) || c.Remove != nil {
		t.Fatalf("after replace: %+v", c)
	}
	d.removeID("x")
	if c := d.change(); !c.Replace || c.Add != nil {
		t.Fatalf("replace with every member removed: %+v", c)
	}
	if (&memberDelta{}).change() != nil {
		t.Fatal("an empty delta is a change")
	}
}

func TestMultiValuedEdits(t *testing.T) {
	a := map[string]any{"value": "a@x", "type": "work"}
	b := map[string]any{"value": "b@x", "type": "home"}
	list, added := appendMissing([]any{a}, []any{map[string]any{"type": "work", "value": "a@x"}, b, b})
	if len(list) != 2 || !slices.Equal(added, []int{1}) {
		t.Fatalf("appendMissing: %v %v", list, added)
	}
	// Entra removes by value alone; a whole value removes only its equal.
	if got := removeValues([]any{a, b}, []any{map[string]any{"value": "a@x"}}); len(got) != 1 || got[0].(map[string]any)["value"] != "b@x" {
		t.Fatalf("removeValues by value: %v", got)
	}
	if got := removeValues([]any{"r1", "r2", "r1"}, []any{"r1"}); !slices.Equal(got, []any{"r2"}) {
		t.Fatalf("removeValues of strings: %v", got)
	}
	if got := dropIndexes([]any{0, 1, 2, 3, 4}, []int{0, 2, 4}); !slices.Equal(got, []any{1, 3}) {
		t.Fatalf("dropIndexes: %v", got)
	}
}

func TestFilterSizeScan(t *testing.T) {
	cases := []struct {
		text   string
		ok     bool
		reason string
	}{
		{`userName eq "a"`, true, "one term"},
		{`emails[type eq "work"].value eq "x" and not (title pr)`, true, "three terms, depth 1"},
		{`userName eq " eq eq eq (((((((((((("`, true, "operators and parentheses inside a string do not count"},
		{`userName eq "a\" eq (((((((((((((("`, true, "an escaped quote does not end the string"},
		{`USERNAME EQ "a"`, true, "operators are case-insensitive"},
		{`((((((((((title pr))))))))))`, true, "depth 10"},
		{`(((((((((((title pr)))))))))))`, false, "depth 11"},
		{`emails[type eq "w" and (value co "x")]`, true, "brackets nest"},
	}
	for _, c := range cases {
		if err := checkFilterSize(c.text, typeInvalidFilter); (err == nil) != c.ok {
			t.Errorf("%s: %q → %v", c.reason, c.text, err)
		}
	}
	many := "title pr"
	for range maxFilterTerms {
		many += " or title pr"
	}
	err := checkFilterSize(many, typeInvalidPath)
	if se, ok := err.(*Error); !ok || se.ScimType != typeInvalidPath {
		t.Fatalf("%d terms: %v", maxFilterTerms+1, err)
	}
}

func TestPathAttribute(t *testing.T) {
	for path, want := range map[string]string{
		"members": "members", `members[value eq "x"]`: "members", "urn:ietf:params:scim:schemas:core:2.0:Group:members": "members",
		`emails[type eq "work"].value`: "emails", "name.givenName": "name", "": "",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value": "manager",
	} {
		if got := pathAttribute(path); got != want {
			t.Errorf("pathAttribute(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestCheckGrowth(t *testing.T) {
	long := make([]any, maxAttributeValues+5)
	longer := make([]any, maxAttributeValues+6)
	if err := checkGrowth(map[string]any{"emails": long}, map[string]any{"emails": long[:maxAttributeValues+1]}); err != nil {
		t.Fatalf("shrinking an over-long list: %v", err)
	}
	if err := checkGrowth(map[string]any{"emails": long}, map[string]any{"emails": longer}); err == nil {
		t.Fatal("growing an over-long list was allowed")
	}
	ext := "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	if err := checkGrowth(map[string]any{}, map[string]any{ext: map[string]any{"x": longer}}); err == nil {
		t.Fatal("growth inside an extension was allowed")
	}
}
