package tenant

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
)

// Token expiry and last use are exported for served organizations: the current token's end (not
// the previous one's), last use when known; without the organization label, the earliest of each.
func TestTokenMetrics(t *testing.T) {
	reg := NewRegistry()
	m := &TokenMetrics{Registry: reg}
	expires, previousEnds, used := time.Unix(1900000000, 0), time.Unix(1800000000, 0), time.Unix(1700000000, 0)
	reg.Set(&Organization{Name: "acme", Integration: types.NamespacedName{Namespace: "acme", Name: "acme"}, TokenLastUsed: used,
		Credentials: []Credential{{NotAfter: previousEnds}, {NotAfter: expires, Current: true}}})
	reg.Set(&Organization{Name: "globex", Integration: types.NamespacedName{Namespace: "globex", Name: "globex"},
		Credentials: []Credential{{Current: true}}}) // never expires, never used
	if got := collect(t, m); len(got) != 0 {
		t.Fatalf("%v while the data plane does not listen", got)
	}
	reg.MarkListening(true)
	assertSeries(t, collect(t, m), map[string]float64{
		`eio_token_expiry_timestamp_seconds{organization="acme"}`:    1.9e9,
		`eio_token_last_used_timestamp_seconds{organization="acme"}`: 1.7e9,
	})

	reg.Set(&Organization{Name: "initech", Integration: types.NamespacedName{Namespace: "initech", Name: "initech"},
		TokenLastUsed: used.Add(-time.Hour), Credentials: []Credential{{NotAfter: expires.Add(-time.Hour), Current: true}}})
	m.NoOrganizationLabel = true
	assertSeries(t, collect(t, m), map[string]float64{
		`eio_token_expiry_timestamp_seconds{organization=""}`:    1.9e9 - 3600,
		`eio_token_last_used_timestamp_seconds{organization=""}`: 1.7e9 - 3600,
	})
}

// collect gathers a collector into name{organization="…"} → value.
func collect(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			out[f.GetName()+`{organization="`+m.GetLabel()[0].GetValue()+`"}`] = m.GetGauge().GetValue()
		}
	}
	return out
}

func assertSeries(t *testing.T, got, want map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}
