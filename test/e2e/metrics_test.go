package e2e

import (
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/operator"
)

// documentedSeries are the operator's own series of docs/observability.md; each must be on
// /metrics once an organization has been provisioned, refused and throttled.
var documentedSeries = []string{
	"eio_scim_requests_total", "eio_scim_request_duration_seconds_bucket", "eio_scim_auth_failures_total",
	"eio_scim_rate_limited_total", "eio_scim_refusals_throttled_total", "eio_scim_tarpitted_total", "eio_scim_tarpit_full_total",
	"eio_audit_events_dropped_total", "eio_members", "eio_deprovisionings_held",
	"eio_token_expiry_timestamp_seconds", "eio_token_last_used_timestamp_seconds",
	"eio_store_commit_duration_seconds_bucket", "eio_store_commit_batch_size_bucket", "eio_store_commit_errors_total",
	"eio_group_work_pending", "eio_group_work_oldest_age_seconds",
}

// /metrics as a cluster serves it (--metrics-secure: HTTPS, TokenReview and SubjectAccessReview
// against the real API server) answers only a ServiceAccount bound to the metrics-reader role,
// and shows an organization's traffic, members, token and store commits; the chart's alerts and
// dashboard read only series that are there.
func TestMetricsAreProtectedAndMove(t *testing.T) {
	g := NewWithT(t)
	g.SetDefaultEventuallyTimeout(60 * time.Second)
	g.SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	sys := start(t)
	ctx, k8s := sys.ctx, sys.k8s
	By := func(s string) { t.Log(s) }

	By("the secure metrics server runs as the manager builds it")
	httpClient, err := rest.HTTPClientFor(sys.env.Config)
	g.Expect(err).NotTo(HaveOccurred())
	addr := freeAddress(t)
	srv, err := metricsserver.NewServer(operator.MetricsServerOptions(addr, true, ""), sys.env.Config, httpClient)
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = srv.Start(ctx) }()
	metricsURL := "https://" + addr + "/metrics"

	By("a Prometheus ServiceAccount bound to the shipped metrics-reader role; another, unbound")
	sys.kubectl(t, "apply", "-f", filepath.Join("..", "..", "config", "rbac", "metrics_reader_role.yaml"))
	sys.kubectl(t, "create", "namespace", "monitoring")
	sys.kubectl(t, "-n", "monitoring", "create", "serviceaccount", "prometheus")
	sys.kubectl(t, "-n", "monitoring", "create", "serviceaccount", "nobody")
	sys.kubectl(t, "create", "clusterrolebinding", "prometheus-metrics", "--clusterrole=metrics-reader", "--serviceaccount=monitoring:prometheus")
	reader := strings.TrimSpace(sys.kubectl(t, "-n", "monitoring", "create", "token", "prometheus"))
	nobody := strings.TrimSpace(sys.kubectl(t, "-n", "monitoring", "create", "token", "nobody"))

	g.Eventually(func() int { status, _ := scrapeMetrics(t, metricsURL, ""); return status }).Should(Equal(http.StatusUnauthorized))
	status, _ := scrapeMetrics(t, metricsURL, nobody)
	g.Expect(status).To(Equal(http.StatusForbidden))
	status, _ = scrapeMetrics(t, metricsURL, reader)
	g.Expect(status).To(Equal(http.StatusOK))

	By("an organization provisioned, refused and throttled over HTTP")
	sys.kubectl(t, "apply", "-k", filepath.Join("..", "..", "config", "samples"))
	key := types.NamespacedName{Namespace: "acme", Name: "acme"}
	scim := &v1alpha1.ScimIntegration{}
	g.Eventually(func() string {
		_ = k8s.Get(ctx, key, scim)
		if scim.Status.Token == nil {
			return ""
		}
		return scim.Status.Token.SecretName
	}).ShouldNot(BeEmpty())
	secret := &corev1.Secret{}
	g.Expect(k8s.Get(ctx, types.NamespacedName{Namespace: "acme", Name: scim.Status.Token.SecretName}, secret)).To(Succeed())
	tok := string(secret.Data["token"])
	g.Eventually(func() int { s, _ := call(t, "GET", scim.Status.BaseURL+"/Users", tok, ""); return s }).Should(Equal(http.StatusOK))
	before := metricsValues(t, metricsURL, reader)
	s, body := call(t, "POST", scim.Status.BaseURL+"/Users", tok, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@acme.example"}`)
	g.Expect(s).To(Equal(http.StatusCreated), body)
	s, _ = call(t, "GET", scim.Status.BaseURL+"/Users", "eio_scim_not-the-token", "")
	g.Expect(s).To(Equal(http.StatusUnauthorized))
	g.Expect(patchSpec(ctx, k8s, key, `{"spec":{"rateLimit":{"requestsPerSecond":1,"burst":1},"token":{"expiresAfter":"720h"}}}`)).To(Succeed())
	g.Eventually(func() int { s, _ := call(t, "GET", scim.Status.BaseURL+"/Users", tok, ""); return s }).Should(Equal(http.StatusTooManyRequests))

	By("the series move; members and held deprovisionings follow the summary (nudged here)")
	var after map[string]float64
	g.Eventually(func() map[string]float64 {
		_ = k8s.Patch(ctx, scim, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"e2e/nudge":"`+time.Now().String()+`"}}}`)))
		after = metricsValues(t, metricsURL, reader)
		return after
	}).Should(SatisfyAll(
		HaveKeyWithValue(`eio_members{organization="acme",state="Active"}`, 1.0),
		HaveKeyWithValue(`eio_deprovisionings_held{organization="acme"}`, 0.0),
		HaveKey(`eio_token_last_used_timestamp_seconds{organization="acme"}`),
		HaveKey(`eio_token_expiry_timestamp_seconds{organization="acme"}`),
	))
	moved := func(series string) float64 { return after[series] - before[series] }
	g.Expect(moved(`eio_scim_requests_total{code="201",method="POST",organization="acme",resource="Users"}`)).To(Equal(1.0))
	g.Expect(moved(`eio_scim_auth_failures_total{organization="acme"}`)).To(Equal(1.0))
	g.Expect(moved(`eio_scim_rate_limited_total{organization="acme"}`)).To(BeNumerically(">=", 1))
	g.Expect(moved(`eio_store_commit_batch_size_count`)).To(BeNumerically(">=", 1))
	g.Expect(moved(`eio_store_commit_duration_seconds_count`)).To(BeNumerically(">=", 1))
	expiry := after[`eio_token_expiry_timestamp_seconds{organization="acme"}`]
	g.Expect(expiry - float64(time.Now().Unix())).To(BeNumerically("~", 720*3600, 3600))

	names := map[string]bool{}
	for series := range after {
		names[strings.SplitN(series, "{", 2)[0]] = true
	}
	for _, name := range documentedSeries {
		g.Expect(names).To(HaveKey(name), "documented series missing from /metrics")
	}

	By("the chart's alerts and dashboard read only series the operator exports")
	chart := filepath.Join("..", "..", "charts", "enterprise-identity-operator")
	rendered, err := helm(t, "template", "eio", chart, "--set", "externalURL=https://scim.example.com",
		"--set", "metrics.prometheusRule.enabled=true", "--set", "metrics.dashboard.enabled=true")
	g.Expect(err).NotTo(HaveOccurred(), rendered)
	var rule, dashboard string
	for _, doc := range strings.Split(rendered, "\n---\n") {
		switch {
		case strings.Contains(doc, "kind: PrometheusRule"):
			rule = doc
		case strings.Contains(doc, "enterprise-identity-operator.json"):
			var cm corev1.ConfigMap
			g.Expect(yaml.Unmarshal([]byte(doc), &cm)).To(Succeed())
			dashboard = cm.Data["enterprise-identity-operator.json"]
		}
	}
	g.Expect(rule).NotTo(BeEmpty())
	g.Expect(dashboard).To(HavePrefix("{"))
	used := regexp.MustCompile(`eio_[a-z_]+`).FindAllString(rule+dashboard, -1)
	g.Expect(used).NotTo(BeEmpty())
	for _, name := range used {
		g.Expect(names).To(HaveKey(name), "the chart reads a series /metrics does not have")
	}
}

// scrapeMetrics GETs the secure metrics endpoint with a bearer token (none when empty).
func scrapeMetrics(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// The endpoint's certificate is self-signed, as in a cluster without metrics.certSecret.
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // a self-signed test certificate
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// metricsValues scrapes /metrics into series → value (the text format's sample lines).
func metricsValues(t *testing.T, url, token string) map[string]float64 {
	t.Helper()
	status, body := scrapeMetrics(t, url, token)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, status, body)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
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
