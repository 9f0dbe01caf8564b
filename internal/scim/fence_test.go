package scim_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// A request authenticated while its organization was being deleted (the replica had not yet
// seen the deletion) writes nothing: 503 with an RFC 7644 body and Retry-After, and the retry
// meets the organization as it is by then. A claim that takes the slug next finds nothing of the
// request, not even its audit event; organization B is untouched.
func TestAWriteAfterItsOrganizationWasDeletedWritesNothing(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.create(t, map[string]any{"userName": "ada@example.com"})
		h.asB().create(t, map[string]any{"userName": "bea@example.com"})
		if err := h.st.DeleteOrganization(ctx, h.orgA, claimOf(h.orgA)); err != nil {
			t.Fatal(err)
		}
		// The registry still serves A: the window between the deletion and this replica seeing it.
		r := h.do(http.MethodPost, "/Users", map[string]any{"userName": "late@example.com"})
		r.wantError(t, http.StatusServiceUnavailable, "")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After on the refused write")
		}
		h.do(http.MethodGet, "/Users?filter=userName%20eq%20%22late@example.com%22", nil).want(t, http.StatusOK)
		h.srv.Close()
		h.scim.Close() // records the queued audit events
		if err := h.st.BindOrganization(ctx, h.orgA, "claim-of-the-next-owner", ""); err != nil {
			t.Fatal(err)
		}
		if page, err := h.st.List(ctx, h.orgA, store.KindUser, store.Query{Count: 10}); err != nil || page.Total != 0 {
			t.Fatalf("the next owner finds users: %+v %v", page, err)
		}
		if events, err := h.st.AuditEvents(ctx, h.orgA, store.AuditQuery{Limit: 10}); err != nil || len(events) != 0 {
			t.Fatalf("the next owner finds the audit events of requests made after the deletion: %+v %v", events, err)
		}
		if page, err := h.st.List(ctx, h.orgB, store.KindUser, store.Query{Count: 10}); err != nil || page.Total != 1 {
			t.Fatalf("organization B: %+v %v", page, err)
		}
		if events, err := h.st.AuditEvents(ctx, h.orgB, store.AuditQuery{Limit: 10}); err != nil || len(events) == 0 {
			t.Fatalf("organization B's audit events were dropped: %+v %v", events, err)
		}
	})
}
