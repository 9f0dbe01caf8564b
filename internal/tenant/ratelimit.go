package tenant

import "github.com/z8z8/enterprise-identity-operator/api/v1alpha1"

// Defaults of an organization's rate limit: the ScimIntegration CRD's defaults (spec.rateLimit,
// where the choice is explained), applied here too for fields an object lacks.
const (
	DefaultRequestsPerSecond = 100
	DefaultBurst             = 200
)

// RateLimit bounds an organization's authenticated SCIM requests on one replica: a token bucket
// of RequestsPerSecond sustained and Burst at once. The zero value is no limit; the Source
// always sets one from the ScimIntegration, so only organizations built by hand (tests, the
// load tool) have none.
type RateLimit struct {
	RequestsPerSecond float64
	Burst             int
}

// Unlimited reports the zero value.
func (l RateLimit) Unlimited() bool { return l.RequestsPerSecond <= 0 }

// rateLimit reads spec.rateLimit, with the CRD's defaults for unset fields.
func rateLimit(spec v1alpha1.RateLimitSpec) RateLimit {
	out := RateLimit{RequestsPerSecond: DefaultRequestsPerSecond, Burst: DefaultBurst}
	if spec.RequestsPerSecond != nil && *spec.RequestsPerSecond > 0 {
		out.RequestsPerSecond = float64(*spec.RequestsPerSecond)
	}
	if spec.Burst != nil && *spec.Burst > 0 {
		out.Burst = int(*spec.Burst)
	}
	return out
}
