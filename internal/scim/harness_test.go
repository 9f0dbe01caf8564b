package scim_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/scim"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
	"github.com/z8z8/enterprise-identity-operator/test/idp"
)

// Each test gets two organizations with their own tokens, served over real HTTP on loopback,
// on SQLite and (when make test started one) PostgreSQL.
const (
	tokenA = "eio_scim_token-of-organization-a-0123456789abcdef"
	tokenB = "eio_scim_token-of-organization-b-0123456789abcdef"
)

type harness struct {
	t      *testing.T
	st     store.Store
	reg    *tenant.Registry
	srv    *httptest.Server
	scim   *scim.Server
	orgA   string
	orgB   string
	token  string
	org    string
	client *http.Client
}

var orgSeq int

// eachStore runs fn against every available store.
func eachStore(t *testing.T, fn func(t *testing.T, h *harness)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "identity.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		fn(t, newHarness(t, st))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := postgresDSN(t)
		if dsn == "" {
			t.Skip("EIO_TEST_POSTGRES_DSN is not set; make test starts a throwaway PostgreSQL server and sets it")
		}
		st, err := sqlstore.OpenPostgres(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		fn(t, newHarness(t, st))
	})
}

func newHarness(t *testing.T, st store.Store) *harness {
	orgSeq++
	h := &harness{t: t, orgA: "org-a-" + strconv.Itoa(orgSeq) + "-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), client: &http.Client{}}
	if len(h.orgA) > 60 {
		h.orgA = h.orgA[:60]
	}
	h.orgB = h.orgA + "b"
	reg := tenant.NewRegistry()
	h.st, h.reg = st, reg
	for org, tok := range map[string]string{h.orgA: tokenA, h.orgB: tokenB} {
		// Bound to a claim and served under it, as the operator does (the organization's fence).
		if err := st.BindOrganization(context.Background(), org, bindingOf(org), ""); err != nil {
			t.Fatal(err)
		}
		reg.Set(&tenant.Organization{
			Name: org, Binding: bindingOf(org), Enabled: true,
			Integration: types.NamespacedName{Namespace: "ns", Name: org},
			Credentials: []tenant.Credential{credential(tok)},
			Policy:      provisioning.DefaultPolicy,
		})
	}
	reg.MarkListening(true)
	s := &scim.Server{Store: st, Tenants: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h.scim, h.srv = s, httptest.NewServer(s.Handler())
	// Cleanups run last-registered first: stop serving, then record the queued audit events, then
	// (registered earlier) close the store.
	t.Cleanup(s.Close)
	t.Cleanup(h.srv.Close)
	h.org, h.token = h.orgA, tokenA
	return h
}

// bindingOf is what an organization of the harness is bound to: its claim and integration UIDs.
func bindingOf(org string) store.Binding {
	return store.Binding{Claim: "claim-of-" + org, Integration: "integration-of-" + org}
}

func credential(tok string) tenant.Credential {
	var c tenant.Credential
	c.Current = true
	raw, _ := hex.DecodeString(token.Hash(tok))
	copy(c.SHA256[:], raw)
	return c
}

// setPolicy changes organization A's provisioning policy.
func (h *harness) setPolicy(p provisioning.Policy) {
	h.reg.Set(&tenant.Organization{
		Name: h.orgA, Binding: bindingOf(h.orgA), Enabled: true, Integration: types.NamespacedName{Namespace: "ns", Name: h.orgA},
		Credentials: []tenant.Credential{credential(tokenA)}, Policy: p,
	})
}

// as returns a harness speaking for organization B.
func (h *harness) asB() *harness {
	b := *h
	b.org, b.token = h.orgB, tokenB
	return &b
}

// response is a decoded SCIM response.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a request to the organization's SCIM base URL; path starts with "/".
func (h *harness) do(method, path string, body any, headers ...string) response {
	h.t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		reader = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, h.srv.URL+"/scim/v2/"+h.org+path, reader)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			h.t.Fatalf("%s %s: response is not JSON: %s", method, path, raw)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
			h.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
		}
	}
	return out
}

// want fails unless the response has the status.
func (r response) want(t *testing.T, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// wantError checks an RFC 7644 error body.
func (r response) wantError(t *testing.T, status int, scimType string) {
	t.Helper()
	r.want(t, status)
	if r.body["status"] != strconv.Itoa(status) || r.body["detail"] == "" || !hasSchema(r.body, "urn:ietf:params:scim:api:messages:2.0:Error") {
		t.Fatalf("not an RFC 7644 error body: %s", r.raw)
	}
	if got, _ := r.body["scimType"].(string); got != scimType {
		t.Fatalf("scimType %q, want %q: %s", got, scimType, r.raw)
	}
}

func hasSchema(body map[string]any, urn string) bool {
	list, _ := body["schemas"].([]any)
	for _, s := range list {
		if s == urn {
			return true
		}
	}
	return false
}

// get reads a dotted path ("Resources.0.name.givenName") from a decoded body; URN keys may be
// given whole ("urn:…:User.department" splits at the last '.').
func get(body any, path string) any { return idp.Get(body, path) }

func equalJSON(a, b any) bool { return idp.EqualJSON(a, b) }
