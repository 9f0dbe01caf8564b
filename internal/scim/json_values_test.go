package scim

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
)

// jsonValueCases are the values copyJSON and equalJSON must treat as encoding them would,
// including the ones they leave to the encoding.
func jsonValueCases() []any {
	invalid := string([]byte{0xff, 'a'})
	return []any{
		nil, true, false, "", "a", "ünïcode", invalid, string([]byte{0xfe, 'a'}), "<&>",
		float64(1), float64(0), negativeZero(), 1e21, json.Number("1"), json.Number("1.0"), json.Number("1e400"), 7, int64(7),
		map[string]any(nil), []any(nil), map[string]any{}, []any{},
		map[string]any{"a": "x", "b": []any{true, nil, "y"}},
		map[string]any{"a": "x", "b": []any{true, nil, "z"}},
		map[string]any{"a": "x"}, map[string]any{"b": "x"}, map[string]any{"a": "x", "c": nil},
		map[string]any{invalid: "k"}, map[string]any{string([]byte{0xfe, 'a'}): "k"}, map[string]any{"\ufffda": "k"},
		map[string]any{"n": json.Number("2")}, map[string]any{"n": float64(2)},
		[]any{"a", map[string]any{"x": []any{}}}, []any{"a", map[string]any{"x": []any(nil)}},
		map[string]string{"a": "x"}, []string{"a"},
	}
}

func negativeZero() float64 { z := 0.0; return -z }

func TestCopyJSONIsEncodingAndDecoding(t *testing.T) {
	values := jsonValueCases()
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		values = append(values, randomJSON(r, 4))
	}
	for _, v := range values {
		if got, want := copyJSON(v), roundTrip(v); !reflect.DeepEqual(got, want) {
			t.Errorf("copyJSON(%#v) = %#v, encoding and decoding gives %#v", v, got, want)
		}
	}
	// The copy shares nothing with the original.
	orig := map[string]any{"emails": []any{map[string]any{"value": "a@x"}}, "name": map[string]any{"givenName": "A"}}
	c := deepCopy(orig)
	c["emails"].([]any)[0].(map[string]any)["value"] = "b@x"
	c["name"].(map[string]any)["givenName"] = "B"
	if orig["emails"].([]any)[0].(map[string]any)["value"] != "a@x" || orig["name"].(map[string]any)["givenName"] != "A" {
		t.Fatalf("changing the copy changed the original: %#v", orig)
	}
}

func TestEqualJSONIsEqualEncodings(t *testing.T) {
	values := jsonValueCases()
	r := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		v := randomJSON(r, 3)
		values = append(values, v, roundTrip(v), mutateJSON(r, roundTrip(v)))
	}
	equal := 0
	for _, a := range values {
		for _, b := range values {
			want := encodedEqual(a, b)
			if got := equalJSON(a, b); got != want {
				t.Errorf("equalJSON(%#v, %#v) = %v, their encodings say %v", a, b, got, want)
			}
			if want {
				equal++
			}
		}
	}
	if equal <= len(values) { // a pair of different values must compare equal for the test to mean anything
		t.Fatalf("only %d equal pairs among %d values", equal, len(values))
	}
}

// randomJSON is a decoded JSON value of at most depth levels, with few distinct leaves so that
// equal values turn up.
func randomJSON(r *rand.Rand, depth int) any {
	leaves := []any{nil, true, false, "a", "b", string([]byte{0xff}), "\ufffd", float64(1), json.Number("1")}
	if depth == 0 || r.IntN(3) == 0 {
		return leaves[r.IntN(len(leaves))]
	}
	if r.IntN(2) == 0 {
		l := make([]any, r.IntN(3))
		for i := range l {
			l[i] = randomJSON(r, depth-1)
		}
		return l
	}
	m := map[string]any{}
	for range r.IntN(3) {
		m[[]string{"a", "b", "\ufffd", string([]byte{0xff})}[r.IntN(4)]] = randomJSON(r, depth-1)
	}
	return m
}

// mutateJSON changes one leaf of v, or v itself, in place where it can.
func mutateJSON(r *rand.Rand, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = mutateJSON(r, e)
			return x
		}
	case []any:
		if len(x) > 0 {
			i := r.IntN(len(x))
			x[i] = mutateJSON(r, x[i])
			return x
		}
	}
	return randomJSON(r, 1)
}

func BenchmarkDeepCopyOfAUser(b *testing.B) {
	var doc map[string]any
	if err := json.Unmarshal([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"0193","userName":"ann@example.com",
		"name":{"givenName":"Ann","familyName":"Lee","formatted":"Ann Lee"},"displayName":"Ann Lee","active":true,
		"emails":[{"value":"ann@example.com","type":"work","primary":true}],"meta":{"resourceType":"User","version":"W/\"3\""}}`), &doc); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = deepCopy(doc)
	}
}
