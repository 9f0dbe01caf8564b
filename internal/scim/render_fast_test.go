package scim

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// The fast path writes exactly what render writes, as JSON values: every case is compared
// decoded, and the cases it must refuse fall back.
func TestFastRenderingMatchesRender(t *testing.T) {
	created := time.Date(2026, 12, 2, 4, 5, 6, 789000000, time.UTC)
	canonical := func(doc map[string]any) []byte {
		b, err := json.Marshal(doc) // as the store keeps documents: encoding/json, HTML escaped
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	groups := []store.Member{{Value: "g1", Type: store.KindGroup, Display: `Ops "<night>" \ shift`}, {Value: "g2", Type: store.KindGroup}}
	cases := []struct {
		name        string
		rt          *schema.ResourceType
		res         *store.Resource
		memberships []store.Member
		with        bool
	}{
		{"plain user", schema.UserType, &store.Resource{Kind: store.KindUser, ID: "u1", Doc: canonical(map[string]any{
			"userName": "ada@example.com", "active": true, "name": map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
			"emails": []any{map[string]any{"value": "ada@example.com", "primary": true, "type": "work"}}})}, nil, true},
		{"user with the enterprise extension and groups", schema.UserType, &store.Resource{Kind: store.KindUser, ID: "u-2", Doc: canonical(map[string]any{
			"userName": "grace", "displayName": "Grace <Admiral> & \"Amazing\"\n\t\u2028 Hopper ✓",
			schema.EnterpriseUser.ID: map[string]any{"department": "Navy", "manager": map[string]any{"value": "u1"}}})}, groups, true},
		{"groups not asked for", schema.UserType, &store.Resource{Kind: store.KindUser, ID: "u3", Doc: canonical(map[string]any{"userName": "x"})}, nil, false},
		{"jsonb spacing", schema.UserType, &store.Resource{Kind: store.KindUser, ID: "u5", Doc: []byte(`{"name": {"givenName": "A, B"}, ` +
			`"emails": [{"value": "a@b", "primary": true}], "userName": "a"}`)}, groups, true},
		{"empty document", schema.UserType, &store.Resource{Kind: store.KindUser, ID: "u4", Doc: []byte(`{}`)}, nil, true},
		{"group with members", schema.GroupType, &store.Resource{Kind: store.KindGroup, ID: "g1", Doc: canonical(map[string]any{"displayName": "Ops"})},
			[]store.Member{{Value: "u1", Type: store.KindUser, Display: "ada"}}, true},
	}
	for _, c := range cases {
		c.res.Created, c.res.Modified, c.res.Version = created, created.Add(time.Hour), 7
		location := "https://eio.example.com/scim/v2/acme" + c.rt.Endpoint + "/" + c.res.ID
		want, err := render(c.rt, c.res, location, c.memberships, c.with)
		if err != nil {
			t.Fatal(err)
		}
		fast, ok := resourceJSON(c.rt, c.res, location, c.memberships, c.with)
		if !ok {
			t.Fatalf("%s: the fast path refused", c.name)
		}
		var got map[string]any
		if err := json.Unmarshal(fast, &got); err != nil {
			t.Fatalf("%s: not JSON: %v\n%s", c.name, err, fast)
		}
		wantJSON, _ := json.Marshal(want) // through JSON, so both sides have JSON's types
		var wantDecoded map[string]any
		_ = json.Unmarshal(wantJSON, &wantDecoded)
		if !reflect.DeepEqual(got, wantDecoded) {
			t.Fatalf("%s:\n fast   %s\n render %s", c.name, fast, wantJSON)
		}
	}

	for name, doc := range map[string]string{
		"an id in the document":       `{"id":"x","userName":"a"}`,
		"a key with an escape":        `{"user\"Name":"a"}`,
		"not an object":               `["a"]`,
		"groups kept in the document": `{"groups":[],"userName":"a"}`,
	} {
		res := &store.Resource{Kind: store.KindUser, ID: "u1", Doc: []byte(doc)}
		if _, ok := resourceJSON(schema.UserType, res, "http://x/scim/v2/o/Users/u1", groups, true); ok {
			t.Errorf("%s: the fast path must leave it to render", name)
		}
	}
}
