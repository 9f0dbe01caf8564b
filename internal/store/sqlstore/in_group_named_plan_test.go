package sqlstore_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// memberOfManyGroups makes a user in n groups, the last named "Admins" with externalId "ext".
func memberOfManyGroups(t *testing.T, s *sqlstore.Store, n int) string {
	t.Helper()
	ctx := context.Background()
	org := fmt.Sprintf("in-group-named-%d", time.Now().UnixNano())
	p := provisioning.DefaultPolicy
	createUsers(t, s, org, 1, &p)
	for i := range n {
		name, ext := fmt.Sprintf("Team %d", i), ""
		if i == n-1 {
			name, ext = "Admins", "ext"
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		g := &store.Resource{Org: org, Kind: store.KindGroup, ID: fmt.Sprintf("g%04d", i), Name: name, ExternalID: ext, Doc: []byte(`{}`),
			Created: now, Modified: now, Version: 1}
		if err := s.Create(ctx, g, []string{"u0"}, store.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	return org
}

// Asking whether a member is in a group a mapping names finds the named groups by their indexes
// and each membership by its key: neither the organization's groups nor the member's
// memberships are read (SQLite without statistics, as the store runs; PostgreSQL's generic plan,
// where the member index (org, member_id, group_id) is such a key too).
func TestInGroupNamedLooksUpByKeys(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s := sqliteStore(t)
		org := memberOfManyGroups(t, s, 50)
		rows, err := s.DB().QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+sqlstore.InGroupNamedQuery(s), org, "admins", org, "Admins", 10, org, "u0")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = rows.Close() }()
		var plan strings.Builder
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(detail + "\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		got := plan.String()
		for _, want := range []string{"scim_groups_name (org=? AND name_lower=?)", "scim_groups_external_id (org=? AND external_id=?)",
			"(org=? AND group_id=? AND member_id=?)"} {
			if !strings.Contains(got, want) {
				t.Errorf("the plan does not search %s:\n%s", want, got)
			}
		}
		if strings.Contains(got, "SCAN scim_") {
			t.Errorf("the plan scans:\n%s", got)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		s := postgresStore(t)
		ctx := context.Background()
		org := memberOfManyGroups(t, s, 300)
		conn, err := s.DB().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		for _, q := range []string{`SET plan_cache_mode = force_generic_plan`, `ANALYZE scim_groups, scim_group_members`,
			`PREPARE in_group_named(text, text, text, text, int, text, text) AS ` + sqlstore.InGroupNamedQuery(s)} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		plan := explain(t, conn, fmt.Sprintf(`EXPLAIN EXECUTE in_group_named('%s', 'admins', '%[1]s', 'Admins', 10, '%[1]s', 'u0')`, org))
		if !regexp.MustCompile(`Limit .*\n\s*->  Index Scan using scim_groups_external_id`).MatchString(plan) {
			t.Errorf("the plan does not bound the groups sharing the externalId:\n%s", plan)
		}
		if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Filter:") {
			t.Errorf("the plan scans or filters what it read:\n%s", plan)
		}
		byKey := false
		for _, line := range strings.Split(plan, "\n") {
			byKey = byKey || strings.Contains(line, "Index Cond") && strings.Contains(line, "member_id") && strings.Contains(line, "group_id")
		}
		if !byKey {
			t.Errorf("the plan does not look the membership up by its whole key:\n%s", plan)
		}
	})
}
