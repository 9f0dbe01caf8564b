package storetest

import (
	"strings"
	"testing"

	"github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// testIndexedColumns: an update writes the indexed columns (userName, externalId, email) it
// changes and keeps the others, whichever of them changes alone, so the stores may leave
// unchanged ones out of the UPDATE (sqlstore's updateSet).
func testIndexedColumns(t *testing.T, s store.Store) {
	org := newOrg()
	u := user(org, "u1", "Ada", `{"userName":"Ada"}`)
	u.ExternalID, u.Email, u.DisplayName = "ext-1", "ada@example.com", "Ada L"
	must(t, s.Create(ctx, u, nil, store.Write{}))
	steps := []struct {
		name   string
		change func(r *store.Resource)
	}{
		{"the userName's case", func(r *store.Resource) { r.Name = "ADA" }},
		{"the userName", func(r *store.Resource) { r.Name = "ada.lovelace" }},
		{"the externalId", func(r *store.Resource) { r.ExternalID = "ext-2" }},
		{"the email's case", func(r *store.Resource) { r.Email = "Ada@Example.com" }},
		{"the email", func(r *store.Resource) { r.Email = "ada@analytical.example" }},
		{"no externalId", func(r *store.Resource) { r.ExternalID = "" }},
		{"the display name and active", func(r *store.Resource) { r.DisplayName, r.Active = "Countess", false }},
		{"everything at once", func(r *store.Resource) {
			r.Name, r.ExternalID, r.Email, r.DisplayName, r.Active = "lovelace", "ext-3", "countess@example.com", "Ada", true
		}},
	}
	want := *u
	want.Email = "ada@example.com"
	for _, step := range steps {
		before := want
		step.change(&want)
		_, err := Update(ctx, s, org, store.KindUser, "u1", 0, func(cur *store.Resource) (*store.Change, error) {
			next := *cur
			step.change(&next)
			return &store.Change{Resource: &next}, nil
		}, store.Write{})
		must(t, err)
		got, err := s.Get(ctx, org, store.KindUser, "u1")
		must(t, err)
		if got.Name != want.Name || got.ExternalID != want.ExternalID || !strings.EqualFold(got.Email, want.Email) ||
			got.DisplayName != want.DisplayName || got.Active != want.Active {
			t.Fatalf("after changing %s: stored %+v, want %+v", step.name, got, want)
		}
		found := func(f string) bool {
			expr, err := filter.ParseFilter([]byte(f))
			must(t, err)
			page, err := s.List(ctx, org, store.KindUser, store.Query{Filter: expr, Count: 10})
			must(t, err)
			return page.Total == 1
		}
		if !found(`userName eq "` + want.Name + `"`) {
			t.Fatalf("after changing %s: userName eq %q finds nothing", step.name, want.Name)
		}
		if before.Name != want.Name && !strings.EqualFold(before.Name, want.Name) && found(`userName eq "`+before.Name+`"`) {
			t.Fatalf("after changing %s: the old userName %q still finds the user", step.name, before.Name)
		}
		if want.ExternalID != "" && !found(`externalId eq "`+want.ExternalID+`"`) {
			t.Fatalf("after changing %s: externalId eq %q finds nothing", step.name, want.ExternalID)
		}
		if before.ExternalID != "" && before.ExternalID != want.ExternalID && found(`externalId eq "`+before.ExternalID+`"`) {
			t.Fatalf("after changing %s: the old externalId %q still finds the user", step.name, before.ExternalID)
		}
	}
}
