package scim_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/z8z8/enterprise-identity-operator/internal/scim"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// Requests are counted and timed per served organization, resource, method and status; refused
// tokens are counted; names that are not served never become label values.
func TestRequestsAreCountedWithBoundedLabels(t *testing.T) {
	st, err := sqlstore.OpenSQLite(context.Background(), t.TempDir()+"/identity.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h := newHarness(t, st)
	reg := prometheus.NewRegistry()
	if err := scim.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	count := func(labels ...string) float64 {
		return metricValue(t, reg, "eio_scim_requests_total", labels...)
	}
	before := count(h.orgA, "Users", "GET", "200")
	h.do("GET", "/Users", nil).want(t, http.StatusOK)
	h.do("GET", "/Users", nil).want(t, http.StatusOK)
	if got := count(h.orgA, "Users", "GET", "200") - before; got != 2 {
		t.Fatalf("2 lookups counted as %v", got)
	}
	failures := metricValue(t, reg, "eio_scim_auth_failures_total", h.orgA)
	h.do("GET", "/Users", nil, "Authorization", "Bearer wrong").wantError(t, http.StatusUnauthorized, "")
	if got := metricValue(t, reg, "eio_scim_auth_failures_total", h.orgA) - failures; got != 1 {
		t.Fatalf("a wrong token counted as %v auth failures", got)
	}
	// Requests without the organization's token, which anyone can send to every resource and
	// method, are counted without its name: they would make a thousand series an organization.
	unnamed := count("", "Groups", "DELETE", "401")
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		for _, path := range []string{"/Users", "/Groups", "/Groups/x", "/Schemas", "/Bulk"} {
			h.do(method, path, nil, "Authorization", "Bearer wrong").want(t, http.StatusUnauthorized)
			if got := count(h.orgA, strings.Split(path[1:], "/")[0], method, "401"); got != 0 {
				t.Fatalf("%s %s without a token made a series of the organization's", method, path)
			}
		}
	}
	if got := count("", "Groups", "DELETE", "401") - unnamed; got != 2 {
		t.Fatalf("2 refused DELETEs of groups counted as %v without an organization", got)
	}
	req, _ := http.NewRequestWithContext(context.Background(), "GET", h.srv.URL+"/scim/v2/made-up-name-1234/Users", nil)
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if n := testutil.CollectAndCount(reg, "eio_scim_requests_total"); n == 0 {
		t.Fatal("no series")
	}
	families, _ := reg.Gather()
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "organization" && l.GetValue() == "made-up-name-1234" {
					t.Fatalf("%s has a series for a name that is not served", f.GetName())
				}
			}
		}
	}
}

// metricValue reads one counter series (0 when it does not exist yet).
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			byName := map[string]string{}
			for _, l := range m.GetLabel() {
				byName[l.GetName()] = l.GetValue()
			}
			order := map[string][]string{"eio_scim_requests_total": {"organization", "resource", "method", "code"},
				"eio_scim_auth_failures_total": {"organization"}}[name]
			for i, want := range labels {
				if byName[order[i]] != want {
					continue series
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
