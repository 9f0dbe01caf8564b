package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// testUsersByID: a page of members reads its users' documents in one call, however many ids it
// names, and never sees another organization's users or a group.
func testUsersByID(t *testing.T, s store.Store) {
	org, other := newOrg(), newOrg()
	must(t, s.Create(ctx, user(org, "u1", "ada", `{"userName":"ada","emails":[{"value":"ada@example.com","primary":true}]}`), nil, store.Write{}))
	must(t, s.Create(ctx, user(org, "u2", "bob", `{"userName":"bob","name":{"givenName":"Bob"}}`), nil, store.Write{}))
	must(t, s.Create(ctx, group(org, "g1", "Engineering"), nil, store.Write{}))
	must(t, s.Create(ctx, user(other, "u3", "eve", `{"userName":"eve"}`), nil, store.Write{}))

	// More ids than one query takes: the store splits them.
	ids := make([]string, 0, 705)
	ids = append(ids, "u2", "g1", "u3", "missing")
	for i := range 700 {
		ids = append(ids, fmt.Sprintf("absent-%d", i))
	}
	ids = append(ids, "u1")
	got, err := s.UsersByID(ctx, org, ids)
	must(t, err)
	if len(got) != 2 || got["u1"] == nil || got["u2"] == nil {
		t.Fatalf("users by id: want u1 and u2 only, got %v", keys(got))
	}
	u1 := got["u1"]
	if u1.ID != "u1" || u1.Name != "ada" || u1.Kind != store.KindUser || u1.Org != org || u1.Version != 1 {
		t.Fatalf("u1: %+v", u1)
	}
	var doc struct {
		Emails []struct{ Value string } `json:"emails"`
	}
	if err := json.Unmarshal(u1.Doc, &doc); err != nil || len(doc.Emails) != 1 || doc.Emails[0].Value != "ada@example.com" {
		t.Fatalf("u1's document: %s (%v)", u1.Doc, err)
	}
	none, err := s.UsersByID(ctx, org, nil)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("no ids: %v", keys(none))
	}
}

func keys(m map[string]*store.Resource) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
