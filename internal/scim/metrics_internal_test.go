package scim

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// An organization no longer served leaves no series behind; another's stay.
func TestForgettingAnOrganizationDropsItsSeries(t *testing.T) {
	requestsTotal.WithLabelValues("forgotten-org", "Users", "GET", "200").Inc()
	requestDuration.WithLabelValues("forgotten-org", "Users", "GET").Observe(0.01)
	authFailures.WithLabelValues("forgotten-org").Inc()
	rateLimited.WithLabelValues("forgotten-org").Inc()
	requestsTotal.WithLabelValues("kept-org", "Users", "GET", "200").Inc()
	ForgetOrganization("forgotten-org")
	for _, c := range []prometheus.Collector{requestsTotal, requestDuration, authFailures, rateLimited} {
		ch := make(chan prometheus.Metric, 1024)
		c.Collect(ch)
		close(ch)
		for m := range ch {
			var d dto.Metric
			if err := m.Write(&d); err != nil {
				t.Fatal(err)
			}
			for _, l := range d.GetLabel() {
				if l.GetName() == "organization" && l.GetValue() == "forgotten-org" {
					t.Fatalf("a series of the forgotten organization remains: %v", d.GetLabel())
				}
			}
		}
	}
	if testutil.ToFloat64(requestsTotal.WithLabelValues("kept-org", "Users", "GET", "200")) != 1 {
		t.Fatal("another organization's series went too")
	}
}
