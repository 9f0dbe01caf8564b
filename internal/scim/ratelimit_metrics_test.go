package scim_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/z8z8/enterprise-identity-operator/internal/scim"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// An organization over its rate limit, and a source over its refusal budget whose 429s are held,
// show on /metrics, scraped over HTTP as Prometheus does; the organization label names only the
// served organization.
func TestRateLimitsAreOnMetrics(t *testing.T) {
	st, err := sqlstore.OpenSQLite(context.Background(), t.TempDir()+"/identity.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	h, _ := limitedHarness(t, st, func(s *scim.Server) {
		s.RefusalsPerSecond, s.RefusalBurst, s.RefusalDelay = 0.001, 1, 10*time.Millisecond
	})
	reg := prometheus.NewRegistry()
	if err := scim.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(metrics.Close)
	before := scrape(t, metrics.URL)

	h.setRateLimit(0.001, 1)
	h.do("GET", "/Users", nil).want(t, http.StatusOK)
	h.do("GET", "/Users", nil).want(t, http.StatusTooManyRequests)
	h.do("GET", "/Users", nil).want(t, http.StatusTooManyRequests)
	h.do("GET", "/Users", nil, "Authorization", "Bearer wrong").wantError(t, http.StatusUnauthorized, "")
	h.do("GET", "/Users", nil, "Authorization", "Bearer wrong").wantError(t, http.StatusTooManyRequests, "")

	after := scrape(t, metrics.URL)
	for series, want := range map[string]float64{
		`eio_scim_rate_limited_total{organization="` + h.orgA + `"}`: 2,
		`eio_scim_refusals_throttled_total`:                          1,
		`eio_scim_tarpitted_total`:                                   1,
		// The organization's own; the throttled refusal of a wrong token is nobody's.
		`eio_scim_requests_total{code="429",method="GET",organization="` + h.orgA + `",resource="Users"}`: 2,
		`eio_scim_requests_total{code="429",method="GET",organization="",resource="Users"}`:               1,
	} {
		if got := after[series] - before[series]; got != want {
			t.Errorf("%s moved by %v, want %v", series, got, want)
		}
	}
}

// scrape reads a /metrics page over HTTP into series → value (the text format's sample lines).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
