package service

import (
	"context"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Anyone can send a request without a token to an organization's path, with the User-Agent of
// its identity provider. The refusal is the organization's last error, but not its identity
// provider's last request: status would otherwise show a connection (connectionVerifiedAt, the
// IdPConnected event) and a lastClient that the sender chose.
func TestARefusalIsNotTheIdentityProvidersLastRequest(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	refusal := func(at time.Time) store.AuditEvent {
		return store.AuditEvent{Org: "acme", Time: at, RequestID: "refused", Action: "auth.refused", Client: "Okta SCIM Client 1.0.0",
			Method: "GET", Path: "/scim/v2/acme/Users", Status: 401, Detail: "a valid bearer token is required"}
	}
	now := time.Now().UTC()
	if err := st.RecordAudit(ctx, []store.AuditEvent{refusal(now)}); err != nil {
		t.Fatal(err)
	}
	sum, err := store.Summarize(ctx, st, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if sum.LastRequest != nil {
		t.Fatalf("a refused request without a token is the last request: %+v", sum.LastRequest)
	}
	if sum.LastError == nil || sum.LastError.Status != 401 {
		t.Fatalf("the refusal is not the last error: %+v", sum.LastError)
	}

	// The identity provider's request with its token is the last request, and a newer refusal
	// leaves it so.
	idp := store.AuditEvent{Org: "acme", Time: now.Add(time.Second), RequestID: "real", Action: "user.list", Client: "Microsoft.AAD.Provisioning",
		TokenFingerprint: "fp", Method: "GET", Path: "/scim/v2/acme/Users", Status: 200}
	if err := st.RecordAudit(ctx, []store.AuditEvent{idp, refusal(now.Add(2 * time.Second))}); err != nil {
		t.Fatal(err)
	}
	if sum, err = store.Summarize(ctx, st, "acme"); err != nil {
		t.Fatal(err)
	}
	if sum.LastRequest == nil || sum.LastRequest.RequestID != "real" || sum.LastRequest.Client != "Microsoft.AAD.Provisioning" {
		t.Fatalf("last request %+v, want the identity provider's", sum.LastRequest)
	}
}
