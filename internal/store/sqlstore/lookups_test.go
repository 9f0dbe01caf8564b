package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// On PostgreSQL concurrent `userName eq` lookups share statements (lookups.go). Organizations with
// the same userNames, looked up at once and in any case, each get their own user only, with its
// groups; a userName nobody has finds nothing.
func TestBatchedLookupsAnswerEachOrganizationItsOwnUser(t *testing.T) {
	ctx := context.Background()
	s := postgresStore(t)
	const users = 40
	orgs := []string{fmt.Sprintf("look-a-%d", time.Now().UnixNano()), fmt.Sprintf("look-b-%d", time.Now().UnixNano())}
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, org := range orgs {
		for i := range users {
			u := &store.Resource{Org: org, Kind: store.KindUser, ID: fmt.Sprintf("%s-u%d", org, i), Name: fmt.Sprintf("User%d@Example.com", i),
				Active: true, Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
			if err := s.Create(ctx, u, nil, store.Write{}); err != nil {
				t.Fatal(err)
			}
		}
		g := &store.Resource{Org: org, Kind: store.KindGroup, ID: org + "-g", Name: "G " + org, Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
		if err := s.Create(ctx, g, []string{org + "-u0"}, store.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	before := sqlstore.BatchedLookups()
	var wg sync.WaitGroup
	errs := make(chan error, 4*users)
	for _, org := range orgs {
		for i := range users + 1 { // the last one: nobody has that userName
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- checkLookup(ctx, s, org, i, users)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := sqlstore.BatchedLookups() - before; n == 0 || n >= 2*(users+1) {
		t.Fatalf("%d lookups ran %d batched statements: the batcher was not used, or never batched", 2*(users+1), n)
	}
}

func checkLookup(ctx context.Context, s store.Store, org string, i, users int) error {
	name := fmt.Sprintf("user%d@EXAMPLE.com", i)
	expr, err := filter.ParseFilter([]byte(`userName eq "` + name + `"`))
	if err != nil {
		return err
	}
	page, err := s.List(ctx, org, store.KindUser, store.Query{Filter: expr, StartIndex: 1, Count: 10, WithGroups: true})
	if err != nil {
		return err
	}
	if i == users {
		if page.Total != 0 || len(page.Resources) != 0 {
			return fmt.Errorf("%s: nobody has %s, found %+v", org, name, page.Resources)
		}
		return nil
	}
	if page.Total != 1 || len(page.Resources) != 1 {
		return fmt.Errorf("%s: %s found %d", org, name, len(page.Resources))
	}
	r := page.Resources[0]
	if r.Org != org || r.ID != fmt.Sprintf("%s-u%d", org, i) || !strings.EqualFold(r.Name, name) {
		return fmt.Errorf("%s: %s found %s/%s (%s)", org, name, r.Org, r.ID, r.Name)
	}
	if wantGroups := i == 0; wantGroups != (len(r.Groups) == 1 && r.Groups[0].Value == org+"-g") {
		return fmt.Errorf("%s: %s has groups %+v", org, name, r.Groups)
	}
	return nil
}

// On PostgreSQL concurrent reads of users by id share statements too. Two organizations holding
// users under the same ids, read at once, each get their own user only, with its groups; an id
// only the other organization holds, or nobody, is not found.
func TestBatchedReadsByIDAnswerEachOrganizationItsOwnUser(t *testing.T) {
	ctx := context.Background()
	s := postgresStore(t)
	const users = 40
	run := time.Now().UnixNano()
	orgs := []string{fmt.Sprintf("byid-a-%d", run), fmt.Sprintf("byid-b-%d", run)}
	id := func(i int) string { return fmt.Sprintf("id-%d-%d", run, i) }
	now := time.Now().UTC().Truncate(time.Microsecond)
	for o, org := range orgs {
		for i := range users {
			if o == 1 && i == users-1 {
				continue // only the first organization has the last id
			}
			u := &store.Resource{Org: org, Kind: store.KindUser, ID: id(i), Name: fmt.Sprintf("%s-user%d", org, i),
				Active: true, Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
			if err := s.Create(ctx, u, nil, store.Write{}); err != nil {
				t.Fatal(err)
			}
		}
		g := &store.Resource{Org: org, Kind: store.KindGroup, ID: org + "-g", Name: "G " + org, Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
		if err := s.Create(ctx, g, []string{id(0)}, store.Write{}); err != nil {
			t.Fatal(err)
		}
	}
	before := sqlstore.BatchedReadsByID()
	var wg sync.WaitGroup
	errs := make(chan error, 4*users)
	for o, org := range orgs {
		for i := range users + 1 { // id(users): nobody has it
			wg.Go(func() {
				r, err := s.Get(ctx, org, store.KindUser, id(i))
				missing := i == users || (o == 1 && i == users-1)
				switch {
				case missing && !errors.Is(err, store.ErrNotFound):
					errs <- fmt.Errorf("%s: %s is not there, read %+v, %v", org, id(i), r, err)
				case missing:
				case err != nil:
					errs <- fmt.Errorf("%s: %s: %w", org, id(i), err)
				case r.Org != org || r.ID != id(i) || r.Name != fmt.Sprintf("%s-user%d", org, i):
					errs <- fmt.Errorf("%s: %s read %s/%s (%s)", org, id(i), r.Org, r.ID, r.Name)
				case (i == 0) != (len(r.Groups) == 1 && r.Groups[0].Value == org+"-g") || !r.GroupsLoaded:
					errs <- fmt.Errorf("%s: %s has groups %+v", org, id(i), r.Groups)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := sqlstore.BatchedReadsByID() - before; n == 0 || n >= 2*(users+1) {
		t.Fatalf("%d reads ran %d batched statements: the batcher was not used, or never batched", 2*(users+1), n)
	}
}

// A key PostgreSQL refuses (here a NUL character, which the store's readers never send: see
// TestKeysThatAreNotUTF8NameNothing) fails its own lookup at most: the organizations whose
// lookups shared its statement still get their users.
func TestALookupBatchAnswersEveryOrganizationWhateverOnesKey(t *testing.T) {
	ctx := context.Background()
	s := postgresStore(t)
	org := fmt.Sprintf("look-nul-%d", time.Now().UnixNano())
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := &store.Resource{Org: org, Kind: store.KindUser, ID: org + "-alice", Name: "alice@example.com", Active: true, Doc: []byte(`{}`),
		Created: now, Modified: now, Version: 1}
	if err := s.Create(ctx, u, nil, store.Write{}); err != nil {
		t.Fatal(err)
	}
	res, errs := sqlstore.AnswerLookups(s, []string{org, "evil", org}, []string{"alice@example.com", "a\x00b", "nobody@example.com"})
	if errs[0] != nil || res[0] == nil || res[0].ID != u.ID {
		t.Fatalf("the other organization's lookup: %v, %v", res[0], errs[0])
	}
	if errs[2] != nil || res[2] != nil {
		t.Fatalf("a userName nobody has: %v, %v", res[2], errs[2])
	}
	if errs[1] == nil {
		t.Fatal("the refused key's own lookup answered without an error")
	}
}
