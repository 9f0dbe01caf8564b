package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/store/storetest"
)

// A user is read with at most userGroupsRead of its groups, whatever number it is in: every read
// of a user (by id, by userName, for an update, for an event's snapshot) reads its groups with
// it, and some run without cancellation. Writes of such a user still work, and GroupsOf, within
// its own limit, reads them all.
func TestAUserIsReadWithABoundedNumberOfGroups(t *testing.T) {
	sqlstore.SetUserGroupsRead(t, 3)
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		org := fmt.Sprintf("many-groups-%d", time.Now().UnixNano())
		now := time.Now().UTC().Truncate(time.Microsecond)
		p := provisioning.DefaultPolicy
		u := &store.Resource{Org: org, Kind: store.KindUser, ID: "u1", Name: "ada", Active: true,
			Doc: []byte(`{"userName":"ada","active":true}`), Created: now, Modified: now, Version: 1}
		if err := s.Create(ctx, u, nil, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			g := &store.Resource{Org: org, Kind: store.KindGroup, ID: fmt.Sprintf("g%d", i), Name: fmt.Sprintf("Group %d", i),
				Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
			if err := s.Create(ctx, g, []string{"u1"}, store.Write{Policy: &p}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Get(ctx, org, store.KindUser, "u1")
		if err != nil || !got.GroupsLoaded || len(got.Groups) != 3 {
			t.Fatalf("read by id with %d groups (loaded %v, %v), want 3", len(got.Groups), got.GroupsLoaded, err)
		}
		f, _ := filter.ParseFilter([]byte(`userName eq "ada"`))
		page, err := s.List(ctx, org, store.KindUser, store.Query{Filter: f, Count: 10, StartIndex: 1, WithGroups: true})
		if err != nil || len(page.Resources) != 1 || len(page.Resources[0].Groups) != 3 {
			t.Fatalf("looked up by userName: %+v, %v", page, err)
		}
		groups, fit, err := s.GroupsOf(ctx, org, []string{"u1"}, 10)
		if err != nil || fit != 1 || len(groups["u1"]) != 5 {
			t.Fatalf("GroupsOf read %d groups, fit %d (%v), want 5 and 1", len(groups["u1"]), fit, err)
		}
		if _, err := storetest.Update(ctx, s, org, store.KindUser, "u1", 0, func(cur *store.Resource) (*store.Change, error) {
			next := *cur
			next.Active = false
			next.Doc = []byte(`{"userName":"ada","active":false}`)
			return &store.Change{Resource: &next}, nil
		}, store.Write{Policy: &p}); err != nil {
			t.Fatalf("deactivating a user in more groups than a read returns: %v", err)
		}
		if got, err := s.Get(ctx, org, store.KindUser, "u1"); err != nil || got.Active {
			t.Fatalf("after the deactivation: %+v, %v", got, err)
		}
	})
}
