package tenant

import (
	"testing"

	"k8s.io/utils/ptr"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// The Source always gives an organization a limit: the ScimIntegration's, or the CRD's defaults
// for fields it lacks.
func TestRateLimitFromSpec(t *testing.T) {
	for _, c := range []struct {
		spec v1alpha1.RateLimitSpec
		want RateLimit
	}{
		{v1alpha1.RateLimitSpec{}, RateLimit{RequestsPerSecond: DefaultRequestsPerSecond, Burst: DefaultBurst}},
		{v1alpha1.RateLimitSpec{RequestsPerSecond: ptr.To[int32](5)}, RateLimit{RequestsPerSecond: 5, Burst: DefaultBurst}},
		{v1alpha1.RateLimitSpec{RequestsPerSecond: ptr.To[int32](500), Burst: ptr.To[int32](1000)}, RateLimit{RequestsPerSecond: 500, Burst: 1000}},
	} {
		if got := RateLimitOf(c.spec); got != c.want || got.Unlimited() {
			t.Fatalf("%+v: got %+v, want %+v", c.spec, got, c.want)
		}
	}
	if !(RateLimit{}).Unlimited() {
		t.Fatal("the zero value (organizations built by hand) is unlimited")
	}
}

// A tenant writes its own ScimIntegration, so the installation's maximum lowers what it asks;
// a zero maximum lowers nothing.
func TestTheInstallationsMaximumCapsWhatAnOrganizationAsks(t *testing.T) {
	limit := RateLimit{RequestsPerSecond: 1000, Burst: 2000}
	for _, c := range []struct {
		asked, limit, want RateLimit
		capped             bool
	}{
		{RateLimit{RequestsPerSecond: 100, Burst: 200}, limit, RateLimit{RequestsPerSecond: 100, Burst: 200}, false},
		{RateLimit{RequestsPerSecond: 100000, Burst: 100000}, limit, limit, true},
		{RateLimit{RequestsPerSecond: 500, Burst: 5000}, limit, RateLimit{RequestsPerSecond: 500, Burst: 2000}, true},
		{RateLimit{RequestsPerSecond: 5000, Burst: 50}, limit, RateLimit{RequestsPerSecond: 1000, Burst: 50}, true},
		{RateLimit{}, limit, limit, true}, // unlimited (built by hand) is above any maximum
		{RateLimit{RequestsPerSecond: 100000, Burst: 100000}, RateLimit{}, RateLimit{RequestsPerSecond: 100000, Burst: 100000}, false},
		{RateLimit{RequestsPerSecond: 100000, Burst: 100000}, RateLimit{Burst: 10}, RateLimit{RequestsPerSecond: 100000, Burst: 10}, true},
	} {
		if got, capped := c.asked.Capped(c.limit); got != c.want || capped != c.capped {
			t.Errorf("%+v capped by %+v: %+v (capped %v), want %+v (%v)", c.asked, c.limit, got, capped, c.want, c.capped)
		}
	}
}

// The condition's message names large limits in full (not 1e+06).
func TestARateLimitReadsInFull(t *testing.T) {
	if got := (RateLimit{RequestsPerSecond: 1e6, Burst: 5}).String(); got != "1000000 requests per second with a burst of 5" {
		t.Fatal(got)
	}
	if got := (RateLimit{RequestsPerSecond: 0.5, Burst: 1}).String(); got != "0.5 requests per second with a burst of 1" {
		t.Fatal(got)
	}
}
