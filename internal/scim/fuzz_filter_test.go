package scim

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// Fuzz targets for filters: `go test -fuzz FuzzFilterParse ./internal/scim` (or make fuzz). Their
// seed corpora (testdata/fuzz/…) run with every ordinary go test.

var filterSeeds = []string{
	`userName eq "bjensen"`,
	`userName Eq "a@example.com" and active eq true`,
	`emails[type eq "work" and value co "@example.com"] or not (title pr)`,
	`emails[type eq "work"].value eq "x@example.com"`,
	`name.familyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`,
	`meta.lastModified gt "2026-01-01T00:00:00Z"`,
	`displayName eq "Dave \"the\" Ops"`,
	`members[value eq "abc"]`,
	`(((userName eq "x")))`,
	`userName eq "unterminated`,
	`userName  eq	"spaces"`,
}

// Every filter the service accepts parses alike cached or not, and nothing a client sends
// panics: limits, normalisation, the shape cache and the parser.
func FuzzFilterParse(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		params, err := parseListParams(schema.UserType, func(name string) string {
			if name == "filter" {
				return text
			}
			return ""
		}, "")
		var se *Error
		if err != nil {
			if !errors.As(err, &se) || se.Status != http.StatusBadRequest {
				t.Fatalf("%q: want a 400, got %v", text, err)
			}
			return
		}
		if params.query.Filter == nil {
			return
		}
		normalized, _ := normalizeFilter(strings.TrimSpace(text))
		fresh, err := filter.ParseFilter([]byte(collapseSpace(normalized)))
		if err != nil {
			t.Fatalf("%q was accepted through the cache but does not parse: %v", text, err)
		}
		cached := params.query.Filter.(interface{ String() string }).String()
		if want := fresh.(interface{ String() string }).String(); cached != want {
			t.Fatalf("%q: cached %s, parsed %s", text, cached, want)
		}
	})
}

// fuzzUsers are the users FuzzFilterSQL filters; ASCII values (SQLite's lower() folds ASCII only).
var fuzzUsers = []string{
	`{"userName":"u1","title":"Boss","emails":[{"value":"a@x.com","type":"work","primary":true},{"value":"B@Y.org","type":"home"}]}`,
	`{"userName":"u2","emails":[{"value":"c@x.com","type":"other"}]}`,
	`{"userName":"u3"}`,
	`{"userName":"u4","emails":[{"value":"d_%@z.net"}]}`,
	`{"userName":"u5","emails":[{"value":"a@x.com","type":"home","primary":false},{"value":"e\"q@x.com","type":"work"}]}`,
}

// openFuzzStore is a SQLite store with fuzzUsers in organization "fuzz", created over the SCIM
// handler (so their documents are what the service stores).
func openFuzzStore(f *testing.F) store.Store {
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(f.TempDir(), "identity.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	const tok = "eio_scim_fuzz-token-0123456789abcdef0123456789"
	var c tenant.Credential
	raw, _ := hex.DecodeString(token.Hash(tok))
	copy(c.SHA256[:], raw)
	c.Current = true
	reg := tenant.NewRegistry()
	reg.Set(&tenant.Organization{Name: "fuzz", Enabled: true, Integration: types.NamespacedName{Namespace: "ns", Name: "fuzz"},
		Credentials: []tenant.Credential{c}, Policy: provisioning.DefaultPolicy})
	reg.MarkListening(true)
	srv := &Server{Store: st, Tenants: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.Cleanup(srv.Close)
	h := srv.Handler()
	for _, u := range fuzzUsers {
		req := httptest.NewRequestWithContext(context.Background(), "POST", "/scim/v2/fuzz/Users",
			strings.NewReader(strings.Replace(u, "{", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],`, 1)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/scim+json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusCreated {
			f.Fatalf("creating %s: %d %s", u, w.Code, w.Body)
		}
	}
	return st
}

// Filters translated to SQL run on a real SQLite database without a database error, and a value
// filter emails[…] selects in SQL exactly the users the in-memory matcher (match.go, which PATCH
// paths use) selects.
func FuzzFilterSQL(f *testing.F) {
	for _, s := range []string{
		`type eq "work"`, `value co "@X.COM"`, `type eq "work" and primary eq true`, `not (type eq "work")`,
		`value sw "a" or value ew ".org"`, `type pr`, `primary ne true`, `value gt "b"`, `not (value co "%")`,
		`value co "_"`, `value eq "e\"q@x.com"`, `type eq work`, `display pr`, `value le "c@x.com" and not (type pr)`,
	} {
		f.Add(s)
	}
	st := openFuzzStore(f)
	ctx := context.Background()
	all, err := st.List(ctx, "fuzz", store.KindUser, store.Query{Count: 100, StartIndex: 1})
	if err != nil {
		f.Fatal(err)
	}
	emails, _ := schema.UserType.Resolve("", "emails", "")
	f.Fuzz(func(t *testing.T, text string) {
		list := func(filterText string) ([]string, *filter.ValuePath, bool) {
			params, err := parseListParams(schema.UserType, func(name string) string {
				if name == "filter" {
					return filterText
				}
				return ""
			}, "")
			if err != nil || params.query.Filter == nil {
				return nil, nil, false
			}
			q := params.query
			q.Count, q.StartIndex = 100, 1
			page, err := st.List(ctx, "fuzz", store.KindUser, q)
			var fe *store.FilterError
			if errors.As(err, &fe) {
				return nil, nil, false
			}
			if err != nil {
				t.Fatalf("%q: the translated SQL failed: %v", filterText, err)
			}
			ids := make([]string, 0, len(page.Resources))
			for _, r := range page.Resources {
				ids = append(ids, r.ID)
			}
			sort.Strings(ids)
			vp, _ := params.query.Filter.(*filter.ValuePath)
			return ids, vp, true
		}
		list(text) // any filter: the SQL must run
		ids, vp, ok := list("emails[" + text + "]")
		if !ok || vp == nil || !strings.EqualFold(vp.AttributePath.AttributeName, "emails") || vp.AttributePath.SubAttribute != nil || vp.AttributePath.URIPrefix != nil {
			return
		}
		var want []string
		for _, r := range all.Resources {
			var doc map[string]any
			if err := json.Unmarshal(r.Doc, &doc); err != nil {
				t.Fatal(err)
			}
			elems, _ := doc["emails"].([]any)
			hit := false
			for _, e := range elems {
				m, _ := e.(map[string]any)
				ok, err := matches(emails.Attr, m, vp.ValueFilter)
				if err != nil {
					return // the matcher refuses what the translator took: nothing to compare
				}
				hit = hit || ok
			}
			if hit {
				want = append(want, r.ID)
			}
		}
		sort.Strings(want)
		if strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Fatalf("emails[%s]: SQL selects %v, the in-memory matcher %v", text, ids, want)
		}
	})
}
