package ui

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/adminapi"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// A source over its failed sign-in budget, guessing bearer tokens at the wizard's pages, is
// answered 429 with Retry-After as at the admin API and the sign-in form: no 500, no error line,
// and no further TokenReview.
func TestWizardPagesAnswerASourceOverItsSignInBudgetWith429(t *testing.T) {
	cfg := realAPIServer(t)
	var counts reviewCounts
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	svc := &service.Service{Store: st, Client: countingClient(t, cfg, &counts, nil), Log: log}
	s := &Server{Service: svc, Auth: &adminapi.Server{Service: svc, Log: log}, Log: log}
	mux := http.NewServeMux()
	s.Routes(mux)
	guess := func() *httptest.ResponseRecorder {
		r := httptest.NewRequestWithContext(t.Context(), "GET", "http://wizard.example.com"+Path, nil)
		r.RemoteAddr = "203.0.113.7:40000"
		r.Header.Set("Authorization", "Bearer not-a-kubernetes-token")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	for i := range 20 { // the burst: each a TokenReview the API server refuses
		if w := guess(); w.Code != http.StatusSeeOther {
			t.Fatalf("guess %d answered %d, want the sign-in page", i+1, w.Code)
		}
	}
	reviewed := counts.tokens.Load()
	w := guess()
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("over the budget: %d, Retry-After %q; want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if !strings.Contains(w.Body.String(), "Too many refused sign-ins") {
		t.Fatalf("the page does not say why:\n%s", w.Body)
	}
	if n := counts.tokens.Load() - reviewed; reviewed != 20 || n != 0 {
		t.Fatalf("%d TokenReviews for the burst and %d for the refused guess, want 20 and 0", reviewed, n)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a refused guess was logged as an error:\n%s", logs.String())
	}
}
