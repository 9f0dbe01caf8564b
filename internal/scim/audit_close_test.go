package scim_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/scim"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Reads are audited in batches; Close records what is still queued, so stopping the data plane
// loses no audit event.
func TestCloseRecordsQueuedAuditEvents(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	reg := tenant.NewRegistry()
	reg.Set(&tenant.Organization{Name: "closing", Enabled: true, Integration: types.NamespacedName{Namespace: "ns", Name: "closing"},
		Credentials: []tenant.Credential{credential(tokenA)}, Policy: provisioning.DefaultPolicy})
	reg.MarkListening(true)
	srv := &scim.Server{Store: st, Tenants: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h := srv.Handler()
	for range 3 {
		req := httptest.NewRequestWithContext(ctx, "GET", "/scim/v2/closing/Users", nil)
		req.Header.Set("Authorization", "Bearer "+tokenA)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("list: %d", w.Code)
		}
	}
	srv.Close() // at once, well within the 100 ms batch interval
	events, err := st.AuditEvents(ctx, "closing", store.AuditQuery{Action: "user.list"})
	if err != nil {
		t.Fatal(err)
	}
	if n := countRequests(events); n != 3 {
		t.Fatalf("want the 3 queued reads recorded by Close, got %d in %+v", n, events)
	}
	srv.Close() // idempotent
}

// countRequests is how many requests audit events stand for (identical reads fold into one).
func countRequests(events []store.AuditEvent) int {
	n := 0
	for _, e := range events {
		n += max(e.Count, 1)
	}
	return n
}
