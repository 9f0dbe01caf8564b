package sqlstore_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// On a log of 50,000 successes, the newest failure is found through the failures' index, and an
// action that matches nothing walks only the window below the cursor, not the whole log.
func TestPostgresAuditReadsWalkABoundedPartOfTheLog(t *testing.T) {
	s, _ := replicas(t)
	ctx := context.Background()
	org := fmt.Sprintf("audit-plans-%d", time.Now().UnixNano())
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO audit_events (org, at_us, request_id, action, method, path, status, event_count)
		SELECT $1, g, 'r' || g, CASE WHEN g <= 5 THEN 'user.delete' ELSE 'user.update' END, 'PATCH', '/scim/v2/x/Users/u',
			CASE WHEN g = 3 THEN 409 ELSE 200 END, 1 FROM generate_series(1, 50000) AS g`, org); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `ANALYZE audit_events`); err != nil {
		t.Fatal(err)
	}
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	const window = 1000
	removed := regexp.MustCompile(`Rows Removed by Filter: (\d+)`)
	for name, q := range map[string]store.AuditQuery{
		"failures":     {Failed: true, SCIMRequests: true, Limit: 1, Window: window},
		"an action":    {Action: "user.delete", Limit: 100, Window: window},
		"the newest":   {SCIMRequests: true, Succeeded: true, Limit: 1, Window: window},
		"a resource":   {ResourceID: "nothing-has-it", Limit: 100, Window: window},
		"by outcome":   {Succeeded: true, Limit: 100, Window: window},
		"time and act": {Action: "user.delete", Since: time.UnixMicro(0), Limit: 100, Window: window},
	} {
		query, args := sqlstore.AuditSelect(s, org, q)
		text := explain(t, conn, `EXPLAIN (ANALYZE, BUFFERS) `+query, args...)
		if strings.Contains(text, "Seq Scan") {
			t.Errorf("%s scans the table:\n%s", name, text)
		}
		for _, m := range removed.FindAllStringSubmatch(text, -1) {
			if n, _ := strconv.Atoi(m[1]); n > window {
				t.Errorf("%s walked %d rows past its filter, more than the window of %d:\n%s", name, n, window, text)
			}
		}
		if name == "failures" && !strings.Contains(text, "audit_events_failures") {
			t.Errorf("the newest failure is not found through the failures' index:\n%s", text)
		}
	}
}
