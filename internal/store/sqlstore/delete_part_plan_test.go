package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// A part of an organization's deletion, and a part of a deleted member's memberships, delete the
// rows they read by their addresses, under PostgreSQL's generic plan and with statistics that
// know nothing of the organization: a plan walking an index of the organization's rows instead
// compares each of them with each address, for every part (62 ms a part of 500 among 20,000).
func TestAPartIsDeletedByRowAddress(t *testing.T) {
	s := postgresStore(t)
	ctx := context.Background()
	org := fmt.Sprintf("delete-part-plan-%d", time.Now().UnixNano())
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO scim_group_members (org, group_id, member_id, member_type)
		SELECT $1, 'g' || i, 'u0', 'User' FROM generate_series(1, 5000) AS i`, org); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = s.DB().ExecContext(ctx, `DELETE FROM scim_group_members WHERE org = $1`, org) })
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	organization, member := sqlstore.DeletePartQueries(s, "scim_group_members")
	for _, q := range []string{`SET plan_cache_mode = force_generic_plan`, `BEGIN`,
		`PREPARE organization_part(text, int) AS ` + organization, `PREPARE member_part(text, text, int) AS ` + member} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { _, _ = conn.ExecContext(ctx, `ROLLBACK`) }()
	for _, q := range []string{fmt.Sprintf(`EXPLAIN ANALYZE EXECUTE organization_part('%s', 500)`, org),
		fmt.Sprintf(`EXPLAIN ANALYZE EXECUTE member_part('%s', 'u0', 500)`, org)} {
		plan := explain(t, conn, q)
		if !strings.Contains(plan, "Tid Scan on scim_group_members") || strings.Contains(plan, "Rows Removed by Filter") {
			t.Errorf("%s: the rows read are not deleted by their addresses alone:\n%s", q, plan)
		}
	}
}
