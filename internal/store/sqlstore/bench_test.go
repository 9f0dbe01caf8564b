package sqlstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// Store-level benchmarks (make bench); the HTTP figures come from test/load.

func benchStore(b *testing.B, users int) *sqlstore.Store {
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "identity.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i := range users {
		name := fmt.Sprintf("user-%06d@bench.example", i)
		r := &store.Resource{Org: "bench", Kind: store.KindUser, ID: fmt.Sprintf("u%06d", i), Name: name, Active: true,
			Doc: []byte(`{"userName":"` + name + `"}`), Created: now, Modified: now, Version: 1}
		if err := s.Create(context.Background(), r, nil, store.Write{}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkCreateUser(b *testing.B) {
	s := benchStore(b, 0)
	var n atomic.Int64
	now := time.Now().UTC()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			r := &store.Resource{Org: "bench", Kind: store.KindUser, ID: fmt.Sprintf("c%09d", i), Name: fmt.Sprintf("c%09d", i), Active: true,
				Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
			if err := s.Create(context.Background(), r, nil, store.Write{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUserNameLookup10k(b *testing.B) {
	s := benchStore(b, 10000)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			expr, err := filter.ParseFilter([]byte(fmt.Sprintf(`userName eq "user-%06d@bench.example"`, n.Add(7919)%10000)))
			if err != nil {
				b.Fatal(err)
			}
			page, err := s.List(context.Background(), "bench", store.KindUser, store.Query{Filter: expr, Count: 100, StartIndex: 1, WithGroups: true})
			if err != nil || page.Total != 1 {
				b.Fatalf("lookup: %v %+v", err, page)
			}
		}
	})
}

// BenchmarkGroupMembers2000 reads the members of a group of 2,000 users, as a GET of the group
// does (each member row is also checked against deleted members' waiting work, memberIsThere).
func BenchmarkGroupMembers2000(b *testing.B) {
	s := benchStore(b, 2000)
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%06d", i)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	g := &store.Resource{Org: "bench", Kind: store.KindGroup, ID: "g", Name: "Group", Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
	if err := s.Create(context.Background(), g, ids, store.Write{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			members, _, err := s.Members(context.Background(), "bench", []string{"g"}, store.MaxMembershipsRead)
			if err != nil || len(members["g"]) != 2000 {
				b.Fatalf("members: %v, %d", err, len(members["g"]))
			}
		}
	})
}
