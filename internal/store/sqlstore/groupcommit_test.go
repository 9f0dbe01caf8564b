package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// Writes committed together stay independent: a write that fails inside a shared transaction is
// rolled back alone, and every other write of the batch lands.
func TestConcurrentWritesFailIndependently(t *testing.T) {
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			now := time.Now().UTC()
			name := fmt.Sprintf("user-%d", i/2) // every name twice: one of each pair must fail
			r := &store.Resource{Org: "batch", Kind: store.KindUser, ID: fmt.Sprintf("id-%d", i), Name: name, Active: true,
				Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
			errs[i] = s.Create(context.Background(), r, nil, store.Write{})
		}()
	}
	wg.Wait()
	ok, dup := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrUniqueness):
			dup++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	page, err := s.List(context.Background(), "batch", store.KindUser, store.Query{Count: 0})
	if err != nil {
		t.Fatal(err)
	}
	if ok != n/2 || dup != n/2 || page.Total != n/2 {
		t.Fatalf("%d created, %d refused, %d stored; want %d, %d, %d", ok, dup, page.Total, n/2, n/2, n/2)
	}
}
