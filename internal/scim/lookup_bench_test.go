package scim_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/scim"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// BenchmarkLookupHandler measures a userName lookup through the SCIM handler without the network
// (authentication, filter, store, rendering, read auditing), on SQLite with 10 000 users; the load
// tool (make bench) measures the same over HTTP.
func BenchmarkLookupHandler(b *testing.B) {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "identity.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	reg := tenant.NewRegistry()
	reg.Set(&tenant.Organization{Name: "bench", Enabled: true, Integration: types.NamespacedName{Namespace: "ns", Name: "bench"},
		Credentials: []tenant.Credential{credential(tokenA)}, Policy: provisioning.DefaultPolicy})
	reg.MarkListening(true)
	srv := &scim.Server{Store: st, Tenants: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	b.Cleanup(srv.Close) // before the store closes
	h := srv.Handler()
	const users = 10000
	do := func(method, target, body string) int {
		req := httptest.NewRequestWithContext(context.Background(), method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokenA)
		req.Header.Set("Content-Type", "application/scim+json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	for i := range users {
		if code := do("POST", "/scim/v2/bench/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"user%d@bench.example"}`, i)); code != http.StatusCreated {
			b.Fatalf("create: %d", code)
		}
	}
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1) % users
			if code := do("GET", fmt.Sprintf("/scim/v2/bench/Users?filter=userName+eq+%%22user%d@bench.example%%22", i), ""); code != http.StatusOK {
				b.Fatalf("lookup: %d", code)
			}
		}
	})
}
