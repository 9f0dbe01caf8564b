package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// Audit events of every organization share a transaction (reads and refusals are recorded in
// batches). A request's text that PostgreSQL cannot hold (a NUL character, bytes that are not
// UTF-8, from a path, a User-Agent or an error's detail) is stored without them, on both stores:
// it failed the batch, and every other organization's events in it were lost.
func TestAuditTextIsStoredAsTheStoresHoldText(t *testing.T) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		calm, evil := fmt.Sprintf("audit-calm-%d", time.Now().UnixNano()), fmt.Sprintf("audit-evil-%d", time.Now().UnixNano())
		now := time.Now().UTC()
		hostile := store.AuditEvent{Org: evil, Time: now, RequestID: "r-evil", Action: "users.get", Status: 404, Path: "/Users/a\x00b",
			ResourceID: "a\x00b", Client: "agent\x00\xff", Detail: "no such user a\x00b"}
		if err := s.RecordAudit(ctx, []store.AuditEvent{
			{Org: calm, Time: now, RequestID: "r-calm", Action: "users.list", Status: 200, Path: "/Users"}, hostile,
		}); err != nil {
			t.Fatalf("RecordAudit: %v", err)
		}
		if err := s.RecordRefusals(ctx, []store.Refusal{
			{Event: store.AuditEvent{Org: calm, Time: now, RequestID: "f-calm", Action: "auth.refused", Status: 401, Path: "/Users"}, Key: "calm"},
			{Event: store.AuditEvent{Org: evil, Time: now, RequestID: "f-evil", Action: "auth.refused", Status: 401, Path: "/Users/%00\x00"}, Key: "evil\x00"},
		}); err != nil {
			t.Fatalf("RecordRefusals: %v", err)
		}
		for _, org := range []string{calm, evil} {
			events, err := s.AuditEvents(ctx, org, store.AuditQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 2 {
				t.Fatalf("%s has %d audit events, want its read and its refusal", org, len(events))
			}
			for _, e := range events {
				for _, text := range []string{e.Path, e.ResourceID, e.Client, e.Detail} {
					if strings.ContainsRune(text, 0) || !utf8.ValidString(text) {
						t.Fatalf("%s's event %s keeps %q", org, e.RequestID, text)
					}
				}
			}
		}
	})
}
