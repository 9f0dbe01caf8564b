package scim

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// An organization whose reads fill its queue is told to retry (429 with Retry-After), not that
// the service failed: its identity provider backs off, and nothing is logged as an error.
func TestAFullReadQueueIsATooManyRequestsWithRetryAfter(t *testing.T) {
	e := toError(fmt.Errorf("reading users by r.id: %w", store.ErrBusy), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if e.Status != http.StatusTooManyRequests || e.ScimType != "" {
		t.Fatalf("ErrBusy answers %d %q, want 429", e.Status, e.ScimType)
	}
	w := httptest.NewRecorder()
	writeError(w, e)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("answered %d with Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
}

// A write removing more members than one write may is the client's to change: 400 tooMany, with
// what to do instead.
func TestTooManyMembersRemovedIsTooMany(t *testing.T) {
	e := toError(fmt.Errorf("replacing members: %w", store.ErrTooManyRemoved), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if e.Status != http.StatusBadRequest || e.ScimType != typeTooMany {
		t.Fatalf("ErrTooManyRemoved answers %d %q, want 400 tooMany", e.Status, e.ScimType)
	}
}
