package tenant

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	tokenExpiryDesc = prometheus.NewDesc("eio_token_expiry_timestamp_seconds",
		"When the organization's current SCIM token stops working (Unix seconds); absent for tokens that do not expire.",
		[]string{"organization"}, nil)
	tokenLastUsedDesc = prometheus.NewDesc("eio_token_last_used_timestamp_seconds",
		"When a SCIM token of the organization (the current one, or the previous during a rotation's overlap) was last accepted "+
			"(Unix seconds, minute precision); absent until first used.",
		[]string{"organization"}, nil)
)

// TokenMetrics exports, for each organization this data plane serves, when its current token
// expires and when it was last used. It reads the registry at each scrape: every replica has the
// same view, only served organizations appear, and a removed one's series go with it.
type TokenMetrics struct {
	Registry *Registry
	// NoOrganizationLabel exports one series under organization="" instead: the earliest expiry
	// and the oldest last use, which is what an alert on any token needs.
	NoOrganizationLabel bool
}

var _ prometheus.Collector = (*TokenMetrics)(nil)

// Describe implements prometheus.Collector.
func (m *TokenMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- tokenExpiryDesc
	ch <- tokenLastUsedDesc
}

// Collect implements prometheus.Collector.
func (m *TokenMetrics) Collect(ch chan<- prometheus.Metric) {
	if !m.Registry.Listening() {
		return // serving nothing (starting or shutting down)
	}
	var earliestExpiry, oldestUse time.Time
	for _, o := range m.Registry.Organizations() {
		expiry := currentExpiry(o.Credentials)
		if m.NoOrganizationLabel {
			earliestExpiry, oldestUse = earliest(earliestExpiry, expiry), earliest(oldestUse, o.TokenLastUsed)
			continue
		}
		emitTimestamp(ch, tokenExpiryDesc, expiry, o.Name)
		emitTimestamp(ch, tokenLastUsedDesc, o.TokenLastUsed, o.Name)
	}
	emitTimestamp(ch, tokenExpiryDesc, earliestExpiry, "")
	emitTimestamp(ch, tokenLastUsedDesc, oldestUse, "")
}

// currentExpiry is the current token's end; zero when it does not expire.
func currentExpiry(creds []Credential) time.Time {
	for _, c := range creds {
		if c.Current {
			return c.NotAfter
		}
	}
	return time.Time{}
}

// earliest is the earlier of two times, ignoring zero ones.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func emitTimestamp(ch chan<- prometheus.Metric, desc *prometheus.Desc, t time.Time, org string) {
	if !t.IsZero() {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(t.Unix()), org)
	}
}
