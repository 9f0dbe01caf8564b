package scim_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
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
		if err := h.st.DeleteOrganization(ctx, h.orgA, bindingOf(h.orgA)); err != nil {
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
		if err := h.st.BindOrganization(ctx, h.orgA, store.Binding{Claim: "claim-of-the-next-owner"}, ""); err != nil {
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

// Refused requests are recorded in aggregates about once a second: those of an organization made
// before its deletion (throttled with a valid token, or refused for a wrong one) are dropped when
// they reach the store after it, so the next owner of the slug does not find the previous
// owner's token fingerprint, paths and clients. Found in review.
func TestRefusalsQueuedBeforeADeletionAreNotRecordedAfterIt(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		h.reg.Set(&tenant.Organization{
			Name: h.orgA, Binding: bindingOf(h.orgA), Enabled: true, Integration: types.NamespacedName{Namespace: "ns", Name: h.orgA},
			Credentials: []tenant.Credential{credential(tokenA)}, Policy: provisioning.DefaultPolicy,
			RateLimit: tenant.RateLimit{RequestsPerSecond: 0.001, Burst: 1},
		})
		h.do(http.MethodGet, "/Users/an-old-user-id", nil).want(t, http.StatusNotFound)
		h.do(http.MethodGet, "/Users/an-old-user-id", nil).want(t, http.StatusTooManyRequests)
		wrong := *h
		wrong.token = "eio_scim_not-the-token-of-a"
		wrong.do(http.MethodGet, "/Users/another-old-user-id", nil).want(t, http.StatusUnauthorized)
		b := h.asB()
		b.token = "eio_scim_not-the-token-of-b"
		b.do(http.MethodGet, "/Users", nil).want(t, http.StatusUnauthorized)
		if err := h.st.DeleteOrganization(ctx, h.orgA, bindingOf(h.orgA)); err != nil {
			t.Fatal(err)
		}
		h.srv.Close()
		h.scim.Close() // records the queued events and refusals
		if err := h.st.BindOrganization(ctx, h.orgA, store.Binding{Claim: "claim-of-the-next-owner"}, ""); err != nil {
			t.Fatal(err)
		}
		if events, err := h.st.AuditEvents(ctx, h.orgA, store.AuditQuery{Limit: 10}); err != nil || len(events) != 0 {
			t.Fatalf("the next owner finds the previous owner's refused requests: %+v %v", events, err)
		}
		if events, err := h.st.AuditEvents(ctx, h.orgB, store.AuditQuery{Failed: true, Limit: 10}); err != nil || len(events) != 1 {
			t.Fatalf("organization B's refusal: %+v %v", events, err)
		}
	})
}

// A replica whose view of Kubernetes stalled keeps serving an organization as it knew it. Once
// its data is deleted and the slug bound to the next owner, the old identity provider's token
// must not read the next owner's users: the replica's binding check sees the store bind the
// data otherwise (twice in a row) and answers 503 until its view catches up. Organization B is
// untouched; a replica that catches up serves the new owner again.
func TestAStaleReplicaDoesNotServeTheNextOwnersData(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		check := &tenant.BindingCheck{Store: h.st, Registry: h.reg}
		check.Check(ctx)
		if err := h.st.DeleteOrganization(ctx, h.orgA, bindingOf(h.orgA)); err != nil {
			t.Fatal(err)
		}
		next := store.Binding{Claim: "claim-of-the-next-owner", Integration: "integration-of-the-next-owner"}
		if err := h.st.BindOrganization(ctx, h.orgA, next, ""); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		secret := &store.Resource{Org: h.orgA, Kind: store.KindUser, ID: "next-owners-user", Name: "secret@next.example", Active: true,
			Doc: []byte(`{"userName":"secret@next.example"}`), Created: now, Modified: now, Version: 1}
		if err := h.st.Create(ctx, secret, nil, store.Write{Binding: next}); err != nil {
			t.Fatal(err)
		}
		// The replica still serves A under its old binding, with its old token.
		check.Check(ctx) // a mismatch seen once: maybe a moment's lag
		h.do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		check.Check(ctx)
		r := h.do(http.MethodGet, "/Users", nil)
		r.wantError(t, http.StatusServiceUnavailable, "")
		if strings.Contains(r.raw, "secret@next.example") || r.header.Get("Retry-After") == "" {
			t.Fatalf("the stale replica answered: %d %s", r.status, r.raw)
		}
		h.do(http.MethodGet, "/Users/next-owners-user", nil).wantError(t, http.StatusServiceUnavailable, "")
		h.asB().do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		if _, served := h.reg.Organization(h.orgA); served {
			t.Fatal("the admin and events APIs still see the organization as served")
		}

		// The stale view set again as it was (another event of the same stale objects): still refused.
		stale, _ := h.reg.ServedBinding(h.orgA)
		h.reg.Set(&tenant.Organization{Name: h.orgA, Binding: stale, Enabled: true,
			Integration: types.NamespacedName{Namespace: "ns", Name: h.orgA}, Credentials: []tenant.Credential{credential(tokenA)},
			Policy: provisioning.DefaultPolicy})
		h.do(http.MethodGet, "/Users", nil).wantError(t, http.StatusServiceUnavailable, "")

		// The replica's view catches up: it serves the next owner (its own token) again.
		h.reg.Set(&tenant.Organization{Name: h.orgA, Binding: next, Enabled: true,
			Integration: types.NamespacedName{Namespace: "next", Name: h.orgA}, Credentials: []tenant.Credential{credential(tokenB)},
			Policy: provisioning.DefaultPolicy})
		b := *h
		b.token = tokenB
		if got := b.do(http.MethodGet, "/Users", nil).want(t, http.StatusOK); !strings.Contains(got.raw, "secret@next.example") {
			t.Fatalf("the next owner does not see its user: %s", got.raw)
		}
	})
}

// The same stale replica keeps the tokens it last knew. Once the controller records that the
// integration accepts other tokens (a rotation with no overlap, the end of an overlap, a
// bring-your-own Secret's token replaced after a leak), the replica refuses the old one: 401
// after seeing it unlisted twice in a row; once it records the integration switched off, 403. A replica whose view is ahead of the record (it
// learned a token the controller has not recorded yet) refuses nothing until the record changes.
// Organization B is untouched; a view that catches up serves the new token at once.
func TestAStaleReplicaRefusesATokenRotatedAway(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		check := &tenant.BindingCheck{Store: h.st, Registry: h.reg}
		const (
			rotated  = "eio_scim_the-token-a-rotation-issued-0123456789"
			replaced = "eio_scim_a-token-replaced-after-a-leak-0123456789"
			next     = "eio_scim_the-next-rotation-with-an-overlap-01234"
		)
		fingerprints := func(toks ...string) []string {
			var out []string
			for _, tok := range toks {
				out = append(out, token.Fingerprint(token.Hash(tok)))
			}
			return out
		}
		recordServing := func(org string, disabled bool, toks ...string) {
			t.Helper()
			if err := h.st.RecordServing(ctx, org, bindingOf(org), store.Serving{Tokens: fingerprints(toks...), Disabled: disabled}); err != nil {
				t.Fatal(err)
			}
		}
		record := func(org string, toks ...string) { t.Helper(); recordServing(org, false, toks...) }
		serveA := func(toks ...string) {
			var creds []tenant.Credential
			for _, tok := range toks {
				creds = append(creds, credential(tok))
			}
			h.reg.Set(&tenant.Organization{Name: h.orgA, Binding: bindingOf(h.orgA), Enabled: true,
				Integration: types.NamespacedName{Namespace: "ns", Name: h.orgA}, Credentials: creds, Policy: provisioning.DefaultPolicy})
		}
		as := func(tok string) *harness {
			a := *h
			a.token = tok
			return &a
		}
		twice := func() { check.Check(ctx); check.Check(ctx) }

		twice()
		h.do(http.MethodGet, "/Users", nil).want(t, http.StatusOK) // nothing recorded yet (an earlier release): nothing refused
		record(h.orgA, tokenA)
		record(h.orgB, tokenB)
		twice()
		h.do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)

		// The controller rotated A's token; this replica's view of Kubernetes did not follow.
		record(h.orgA, rotated)
		check.Check(ctx) // unlisted once: maybe a moment's lag
		h.do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		check.Check(ctx)
		h.do(http.MethodGet, "/Users", nil).wantError(t, http.StatusUnauthorized, "")
		h.do(http.MethodPost, "/Users", map[string]any{"userName": "late@example.com"}).wantError(t, http.StatusUnauthorized, "")
		h.asB().do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		if _, served := h.reg.Organization(h.orgA); !served {
			t.Fatal("the admin and events APIs no longer see the organization: its binding is right")
		}

		// The view catches up: the rotated token is served at once.
		serveA(rotated)
		as(rotated).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		twice()
		as(rotated).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)

		// A view ahead of the record (the Secret's token replaced, the controller not yet there):
		// the record has not changed since the replica learned the token, so it is not refused.
		serveA(replaced)
		twice()
		twice()
		as(replaced).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		record(h.orgA, replaced)
		twice()
		as(replaced).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)

		// A rotation with an overlap, seen by the replica: both tokens are listed and served...
		record(h.orgA, replaced, next)
		serveA(next, replaced)
		twice()
		as(replaced).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		as(next).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		// ...and the overlap's end, recorded while the replica's view stalls, refuses the previous one.
		record(h.orgA, next)
		twice()
		as(replaced).do(http.MethodGet, "/Users", nil).wantError(t, http.StatusUnauthorized, "")
		as(next).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		h.asB().do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)

		// The integration switched off to stop its identity provider, recorded while the view stalls:
		// answered as switched off (403), its writes refused, B untouched.
		recordServing(h.orgA, true, next)
		check.Check(ctx)
		as(next).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK) // once: maybe a moment's lag
		check.Check(ctx)
		as(next).do(http.MethodGet, "/Users", nil).wantError(t, http.StatusForbidden, "")
		as(next).do(http.MethodPost, "/Users", map[string]any{"userName": "stopped@example.com"}).wantError(t, http.StatusForbidden, "")
		h.asB().do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		// Switched on again: once the record says so, served at once.
		record(h.orgA, next)
		check.Check(ctx)
		as(next).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)

		// Switched off and on again, the view ahead of the record, which said off before the
		// replica learned it is on again: the record has not changed since, so it stops nothing.
		off := &tenant.Organization{Name: h.orgA, Binding: bindingOf(h.orgA), Enabled: false,
			Integration: types.NamespacedName{Namespace: "ns", Name: h.orgA}, Credentials: []tenant.Credential{credential(next)},
			Policy: provisioning.DefaultPolicy}
		h.reg.Set(off)
		as(next).do(http.MethodGet, "/Users", nil).wantError(t, http.StatusForbidden, "")
		recordServing(h.orgA, true, next)
		check.Check(ctx)
		serveA(next)
		twice()
		twice()
		as(next).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		record(h.orgA, next)
		twice()
		as(next).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		// Recorded off in the same round as the view went off and on again, the record is taken
		// for the newer (as a revocation would be) until the controller records the switch back on.
		h.reg.Set(off)
		recordServing(h.orgA, true, next)
		serveA(next)
		twice()
		as(next).do(http.MethodGet, "/Users", nil).wantError(t, http.StatusForbidden, "")
		record(h.orgA, next)
		check.Check(ctx)
		as(next).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)

		// The store out of reach for a round while the view went off and on again: what the
		// replica saw is kept for the round that reaches it.
		twice()
		recordServing(h.orgA, true, next)
		check.Check(ctx) // the view lags: off seen once
		h.reg.Set(off)
		serveA(next)
		unreachable := &tenant.BindingCheck{Store: failingBindings{}, Registry: h.reg}
		unreachable.Check(ctx)
		check.Check(ctx)
		as(next).do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		record(h.orgA, next)
		twice()

		// A token the replica learned moments before it was replaced after a leak, the view then
		// stalling: the replacement, recorded before the next round, still refuses it.
		const leaked, replacement = "eio_scim_a-token-that-leaked-at-once-0123456789", "eio_scim_its-replacement-0123456789abcdefgh"
		serveA(leaked)
		record(h.orgA, replacement)
		twice()
		as(leaked).do(http.MethodGet, "/Users", nil).wantError(t, http.StatusUnauthorized, "")
	})
}

// failingBindings is a store out of reach.
type failingBindings struct{}

func (failingBindings) OrganizationBindings(context.Context, []string) (map[string]store.BoundOrganization, error) {
	return nil, errors.New("the database is unavailable")
}

// An organization deleted and bound anew counts its record's versions from the start again. A
// replica that served it before, stalled, and learned of the next integration (using the same
// bring-your-own token) must still act on the next integration's records: they are not the
// previous binding's, whatever their versions.
func TestARecordAfterTheOrganizationIsBoundAgainIsActedOn(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		check := &tenant.BindingCheck{Store: h.st, Registry: h.reg}
		twice := func() { check.Check(ctx); check.Check(ctx) }
		fingerprint := func(tok string) []string { return []string{token.Fingerprint(token.Hash(tok))} }
		for range 5 { // the first binding's record changes five times
			for _, tok := range []string{"eio_scim_some-other-token-0123456789abcdef", tokenA} {
				if err := h.st.RecordServing(ctx, h.orgA, bindingOf(h.orgA), store.Serving{Tokens: fingerprint(tok)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		twice()
		if err := h.st.DeleteOrganization(ctx, h.orgA, bindingOf(h.orgA)); err != nil {
			t.Fatal(err)
		}
		next := store.Binding{Claim: bindingOf(h.orgA).Claim, Integration: "the-next-integration"}
		if err := h.st.BindOrganization(ctx, h.orgA, next, ""); err != nil {
			t.Fatal(err)
		}
		h.reg.Set(&tenant.Organization{Name: h.orgA, Binding: next, Enabled: true,
			Integration: types.NamespacedName{Namespace: "ns", Name: "next"}, Credentials: []tenant.Credential{credential(tokenA)},
			Policy: provisioning.DefaultPolicy})
		h.do(http.MethodGet, "/Users", nil).want(t, http.StatusOK)
		twice()
		// The token is replaced (after a leak); the replica's view stalls again.
		if err := h.st.RecordServing(ctx, h.orgA, next, store.Serving{Tokens: fingerprint("eio_scim_the-replacement-0123456789abcdef")}); err != nil {
			t.Fatal(err)
		}
		twice()
		h.do(http.MethodGet, "/Users", nil).wantError(t, http.StatusUnauthorized, "")
	})
}
