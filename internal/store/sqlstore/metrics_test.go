package sqlstore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// Every committed write is on /metrics (scraped over HTTP): SQLite commits concurrent writes in
// groups, so n writes take at most n commits whose sizes add up to n; PostgreSQL commits each
// write alone.
func TestCommitsAreOnMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := sqlstore.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	metrics := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(metrics.Close)
	const n = 64
	check := func(t *testing.T, s *sqlstore.Store, exactCommits bool) {
		before := scrape(t, metrics.URL)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		org := fmt.Sprintf("metrics-%d", time.Now().UnixNano())
		for i := range n {
			wg.Go(func() {
				now := time.Now().UTC()
				r := &store.Resource{Org: org, Kind: store.KindUser, ID: fmt.Sprintf("id-%d", i), Name: fmt.Sprintf("user-%d", i), Active: true,
					Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
				errs <- s.Create(context.Background(), r, nil, store.Write{})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		after := scrape(t, metrics.URL)
		delta := func(series string) float64 { return after[series] - before[series] }
		if got := delta("eio_store_commit_batch_size_sum"); got != n {
			t.Errorf("commit sizes add up to %v, want %d", got, n)
		}
		commits := delta("eio_store_commit_duration_seconds_count")
		if commits < 1 || commits > n || (exactCommits && commits != n) {
			t.Errorf("%d writes took %v commits", n, commits)
		}
		if got := delta("eio_store_commit_batch_size_count"); got != commits {
			t.Errorf("%v batch sizes for %v commit durations", got, commits)
		}
		if got := delta("eio_store_commit_errors_total"); got != 0 {
			t.Errorf("%v commit errors", got)
		}
	}
	t.Run("sqlite", func(t *testing.T) { check(t, sqliteStore(t), false) })
	t.Run("postgres", func(t *testing.T) { check(t, postgresStore(t), true) })
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
