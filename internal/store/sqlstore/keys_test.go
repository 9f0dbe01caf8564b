package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// Keys and filter values from URLs that are not valid UTF-8, or hold a NUL character, name
// nothing, on both stores (PostgreSQL refuses such text outright): reads by key answer not found,
// lists answer nothing.
func TestKeysThatAreNotUTF8NameNothing(t *testing.T) {
	for _, bad := range []string{"a\xffb", "a\x00b"} {
		t.Run(fmt.Sprintf("%q", bad), func(t *testing.T) { keysNameNothing(t, bad) })
	}
}

func keysNameNothing(t *testing.T, bad string) {
	onEachStore(t, func(t *testing.T, s *sqlstore.Store) {
		ctx, org := context.Background(), "utf8-org"
		if _, err := s.Get(ctx, org, store.KindUser, bad); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get: %v", err)
		}
		if err := s.Delete(ctx, org, store.KindGroup, bad, 0, store.Write{}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Member(ctx, org, bad); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Member: %v", err)
		}
		if _, err := s.ReviewMember(ctx, org, bad, true, store.AuditEvent{Action: "member.approve"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ReviewMember: %v", err)
		}
		for _, q := range []store.AuditQuery{{Action: bad}, {ResourceID: bad}} {
			if events, err := s.AuditEvents(ctx, org, q); err != nil || len(events) != 0 {
				t.Fatalf("AuditEvents %+v: %v, %v", q, events, err)
			}
		}
		for _, q := range []store.MemberQuery{{State: bad}, {After: bad}} {
			if members, next, err := s.ListMembers(ctx, org, q); err != nil || len(members) != 0 || next != "" {
				t.Fatalf("ListMembers %+v: %v, %q, %v", q, members, next, err)
			}
		}
	})
}
