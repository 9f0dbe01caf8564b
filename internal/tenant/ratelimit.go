package tenant

import (
	"strconv"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

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

// Capped is l lowered to limit where limit is lower, and whether anything was lowered; a zero
// field of limit lowers nothing. A ScimIntegration is written in its tenant's namespace, so its
// spec.rateLimit is the tenant's own choice: the installation's maximum (the manager's
// --max-organization-rate-limit and --max-organization-burst) keeps one organization from
// giving itself the data plane every organization shares.
func (l RateLimit) Capped(limit RateLimit) (RateLimit, bool) {
	capped := false
	if limit.RequestsPerSecond > 0 && (l.Unlimited() || l.RequestsPerSecond > limit.RequestsPerSecond) {
		l.RequestsPerSecond, capped = limit.RequestsPerSecond, true
	}
	if limit.Burst > 0 && (l.Burst <= 0 || l.Burst > limit.Burst) {
		l.Burst, capped = limit.Burst, true
	}
	return l, capped
}

func (l RateLimit) String() string {
	return strconv.FormatFloat(l.RequestsPerSecond, 'f', -1, 64) + " requests per second with a burst of " + strconv.Itoa(l.Burst)
}

// RateLimitOf reads spec.rateLimit, with the CRD's defaults for unset fields.
func RateLimitOf(spec v1alpha1.RateLimitSpec) RateLimit {
	out := RateLimit{RequestsPerSecond: DefaultRequestsPerSecond, Burst: DefaultBurst}
	if spec.RequestsPerSecond != nil && *spec.RequestsPerSecond > 0 {
		out.RequestsPerSecond = float64(*spec.RequestsPerSecond)
	}
	if spec.Burst != nil && *spec.Burst > 0 {
		out.Burst = int(*spec.Burst)
	}
	return out
}
