package groupwork

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// deletedGroups makes groups of an organization, each of all its members, and deletes them.
func deletedGroups(t *testing.T, st store.Store, org string, members, groups int, p provisioning.Policy) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	w := store.Write{Policy: &p}
	var ids []string
	for i := range members {
		u := &store.Resource{Org: org, Kind: store.KindUser, ID: fmt.Sprintf("u%d", i), Name: fmt.Sprintf("user%d", i), Active: true,
			Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
		if err := st.Create(ctx, u, nil, w); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	for i := range groups {
		g := &store.Resource{Org: org, Kind: store.KindGroup, ID: fmt.Sprintf("g%d", i), Name: fmt.Sprintf("Group %d", i), Doc: []byte(`{}`),
			Created: now, Modified: now, Version: 1}
		// Made with its members' events in its write, whatever the test's MembersPerTransaction.
		before := provisioning.MembersPerTransaction
		provisioning.MembersPerTransaction = len(ids)
		err := st.Create(ctx, g, ids, w)
		provisioning.MembersPerTransaction = before
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Delete(ctx, org, store.KindGroup, g.ID, 0, w); err != nil {
			t.Fatal(err)
		}
	}
}

func pendingPerOrganization(t *testing.T, st store.Store) map[string]int {
	t.Helper()
	work, err := st.PendingGroupWork(context.Background(), []string{"many", "one", "unserved"}, 1000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, w := range work {
		out[w.Org]++
	}
	return out
}

// The worker does every served organization's deferred work, a share of each piece per pass and
// at most a few pieces of one organization per pass, and leaves an organization it does not
// serve alone.
func TestTheWorkerTakesOrganizationsInTurns(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	before := provisioning.MembersPerTransaction
	provisioning.MembersPerTransaction = 3
	defer func() { provisioning.MembersPerTransaction = before }()

	p := provisioning.DefaultPolicy
	deletedGroups(t, st, "many", 7, perOrganization+1, p)
	deletedGroups(t, st, "one", 7, 1, p)
	deletedGroups(t, st, "unserved", 7, 1, p)
	if got := pendingPerOrganization(t, st); got["many"] != perOrganization+1 || got["one"] != 1 || got["unserved"] != 1 {
		t.Fatalf("pending work: %v", got)
	}
	reg := tenant.NewRegistry()
	for _, org := range []string{"many", "one"} {
		reg.Set(&tenant.Organization{Name: org, Integration: types.NamespacedName{Name: org}, Policy: p})
	}
	w := &Worker{Store: st, Registry: reg, Log: logr.Discard()}

	var passes int
	for more := true; more; passes++ {
		if passes == 20 {
			t.Fatal("the worker is not done after 20 passes")
		}
		more = w.Pass(ctx)
		if passes == 0 {
			if w.Pending() != perOrganization+1+1 || w.OldestAge() <= 0 {
				t.Fatalf("after the first pass: %d pending, the oldest %v old; want the served organizations' %d",
					w.Pending(), w.OldestAge(), perOrganization+2)
			}
			// A group's share each: the first groups of "many" and the one of "one"; the last
			// group of "many" waits for a later pass.
			rows := membershipsPerGroup(t, st, "many")
			if rows["g0"] != 4 || rows["g1"] != 4 || rows[fmt.Sprintf("g%d", perOrganization)] != 7 {
				t.Fatalf("after the first pass, memberships of many's groups: %v", rows)
			}
			if rows := membershipsPerGroup(t, st, "one"); rows["g0"] != 4 {
				t.Fatalf("after the first pass, memberships of one's group: %v", rows)
			}
		}
	}
	if got := pendingPerOrganization(t, st); len(got) != 1 || got["unserved"] != 1 {
		t.Fatalf("pending work once the worker is done: %v, want only the unserved organization's", got)
	}
	if rows := membershipsPerGroup(t, st, "unserved"); rows["g0"] != 7 {
		t.Fatalf("the unserved organization's memberships: %v", rows)
	}
	for _, org := range []string{"many", "one"} {
		if rows := membershipsPerGroup(t, st, org); len(rows) != 0 {
			t.Fatalf("%s's memberships once the worker is done: %v", org, rows)
		}
	}
	if w.Pass(ctx) {
		t.Fatal("a pass with only an unserved organization's work says more is left")
	}
	if w.Pending() != 0 || w.OldestAge() != 0 {
		t.Fatalf("with only an unserved organization's work: %d pending, the oldest %v old; want none", w.Pending(), w.OldestAge())
	}
}

func membershipsPerGroup(t *testing.T, st *sqlstore.Store, org string) map[string]int {
	t.Helper()
	rows, err := st.DB().QueryContext(context.Background(), st.Rebind(`SELECT group_id, COUNT(*) FROM scim_group_members WHERE org = ? GROUP BY group_id`), org)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	out := map[string]int{}
	for rows.Next() {
		var g string
		var n int
		if err := rows.Scan(&g, &n); err != nil {
			t.Fatal(err)
		}
		out[g] = n
	}
	return out
}
