package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// The batched reads (users, and members for event snapshots) look each key up by index under the
// generic plan the store's connections use (plan_cache_mode = force_generic_plan), however few
// users there are: found in profiling, among 1,000 users the reads of users were planned as a
// hash join against a scan of every user (0.3 ms a statement, where the index lookups take 0.03).
func TestPostgresBatchedReadsUseTheIndexes(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	org := fmt.Sprintf("plans-%d", time.Now().UnixNano())
	p := provisioning.DefaultPolicy
	createUsers(t, s, org, 1000, &p)
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	for _, q := range []string{`SET plan_cache_mode = force_generic_plan`, `ANALYZE scim_users, members, employee_records`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	keys := fmt.Sprintf(`ARRAY['%s', '%[1]s', '%[1]s'], ARRAY['u1', 'u2', 'user3']`, org)
	for i, read := range sqlstore.BatchedReads(s) {
		args := keys
		if read.Types == "text[], text" {
			args = fmt.Sprintf(`ARRAY['u1', 'u2', 'u3'], '%s'`, org)
		}
		name := fmt.Sprintf("batch_plan_%d", i)
		if _, err := conn.ExecContext(ctx, `PREPARE `+name+`(`+read.Types+`) AS `+read.Query); err != nil {
			t.Fatal(err)
		}
		plan := explain(t, conn, `EXPLAIN EXECUTE `+name+`(`+args+`)`)
		for _, table := range []string{"scim_users", "members", "employee_records"} {
			if strings.Contains(plan, "Seq Scan on "+table) {
				t.Errorf("the read %s scans every row of %s:\n%s", read.Name, table, plan)
			}
		}
	}
}

func explain(t *testing.T, conn *sql.Conn, query string, args ...any) string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rows.Close() }()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}
