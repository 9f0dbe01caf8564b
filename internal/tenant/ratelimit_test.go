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
		if got := rateLimit(c.spec); got != c.want || got.Unlimited() {
			t.Fatalf("%+v: got %+v, want %+v", c.spec, got, c.want)
		}
	}
	if !(RateLimit{}).Unlimited() {
		t.Fatal("the zero value (organizations built by hand) is unlimited")
	}
}
