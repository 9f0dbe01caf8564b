package audit

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

func TestPrunerKeepsEachOrganizationsRetention(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var events []store.AuditEvent
	for _, org := range []string{"short", "long"} {
		for _, age := range []time.Duration{time.Hour, 48 * time.Hour, 30 * 24 * time.Hour} {
			events = append(events, store.AuditEvent{Org: org, Time: now.Add(-age), RequestID: "r", Action: "user.read", Status: 200})
		}
	}
	if err := st.RecordAudit(ctx, events); err != nil {
		t.Fatal(err)
	}
	reg := tenant.NewRegistry()
	reg.Set(&tenant.Organization{Name: "short", Integration: types.NamespacedName{Name: "short"}, AuditRetention: 24 * time.Hour})
	reg.Set(&tenant.Organization{Name: "long", Integration: types.NamespacedName{Name: "long"}, AuditRetention: 90 * 24 * time.Hour})

	(&Pruner{Store: st, Registry: reg, Now: func() time.Time { return now }}).Prune(ctx)

	for org, want := range map[string]int{"short": 1, "long": 3} {
		left, err := st.AuditEvents(ctx, org, store.AuditQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != want {
			t.Fatalf("%s keeps %d events, want %d", org, len(left), want)
		}
	}
}
