package scim

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Rate limits (docs/decisions/0010-rate-limits-and-refusal-audit.md). Each replica keeps its own
// token buckets, so N replicas accept up to N times each limit.
//
//   - Per organization, on authenticated requests: the ScimIntegration's spec.rateLimit
//     (tenant.Organization.RateLimit). One organization's identity provider cannot take the data
//     plane from the others, and Entra ID and Okta answer 429 by waiting Retry-After.
//   - Per source address, on refused requests (no or wrong token, unknown organization, unknown
//     endpoint): a source over its refusal budget gets 429 instead of 401 or 404. Refusals are
//     charged after the token is hashed (one SHA-256 over a header the server has already read,
//     and nothing else: no store work), never before: identity providers send from shared
//     addresses, and behind an ingress every client shares the controller's, so a source's
//     refusals must not block the valid requests arriving from the same address.
const (
	DefaultRefusalsPerSecond = 2
	DefaultRefusalBurst      = 30
	// DefaultMaxSources bounds the per-source buckets kept: a flood from many addresses recycles
	// the least recently refused ones (about 200 bytes each) instead of growing memory.
	DefaultMaxSources = 10000
	// maxOrganizations bounds the per-organization buckets; only served organizations whose
	// token was accepted get one, so this is never reached in practice.
	maxOrganizations = 10000
)

type limiters struct {
	sources      *lru.Cache[string, *rate.Limiter]
	orgs         *lru.Cache[string, *rate.Limiter]
	refusalRate  rate.Limit
	refusalBurst int
	now          func() time.Time
	owing        sync.Mutex // owe's look at the tokens and its reservation, together; owingWrites
	// owingWrites are the organizations with a write in flight that will owe what its members
	// cost beyond its burst (admitOwing): one at a time each, so that writes admitted together
	// cannot each run up a debt the others did not see.
	owingWrites map[string]bool
}

func newLimiters(perSecond float64, burst, maxSources int) *limiters {
	if perSecond <= 0 {
		perSecond = DefaultRefusalsPerSecond
	}
	if burst <= 0 {
		burst = DefaultRefusalBurst
	}
	if maxSources <= 0 {
		maxSources = DefaultMaxSources
	}
	l := &limiters{refusalRate: rate.Limit(perSecond), refusalBurst: burst, now: time.Now, owingWrites: map[string]bool{}}
	l.sources, _ = lru.New[string, *rate.Limiter](maxSources)
	l.orgs, _ = lru.New[string, *rate.Limiter](maxOrganizations)
	return l
}

// refuse charges a refused request to its source; over the budget it returns how long the source
// must wait (and the refusal becomes a 429).
func (l *limiters) refuse(source string) (time.Duration, bool) {
	lim, ok := l.sources.Get(source)
	if !ok {
		lim = rate.NewLimiter(l.refusalRate, l.refusalBurst)
		if prev, found, _ := l.sources.PeekOrAdd(source, lim); found {
			lim = prev
		}
	}
	return take(lim, l.now())
}

// costUnit is how many body bytes cost one more request: decoding and checking a body is the
// expensive part of a request, so a 400 KB PATCH costs what 14 small requests do, and an
// organization at its limit cannot fill the CPU with large bodies (identity providers' bodies are
// a few kilobytes: they cost 1).
const costUnit = 32 << 10

// membersPerCost is how many group members a request names for one more request's cost. A
// member named is a membership row and, when it changes, an event with the member's snapshot:
// about a tenth of a user's create. One request naming 20,000 members (a 1 MiB body, 33 by its
// size) would otherwise cost 600 times less than the same work as creates. Identity providers
// name one member a request (Entra, Okta) or push a group's list now and then (Okta).
const membersPerCost = 10

// membersPerCostWithRoles is membersPerCost for an organization with group role mappings: a
// membership that changes also reviews the member's role, which then changes with an event of
// its own (20,000 members added to a mapped group took 4.4 s of SQLite's writer on the
// project's VM, 1.0 s without mappings).
const membersPerCostWithRoles = 3

// membersCost is what naming n group members adds to a request's cost under policy p.
func membersCost(n int, p provisioning.Policy) int {
	if len(p.GroupRoles) > 0 && !p.DryRun {
		return n / membersPerCostWithRoles
	}
	return n / membersPerCost
}

// requestCost is what a request takes from its organization's bucket, from its declared length.
func requestCost(r *http.Request) int {
	if r.ContentLength <= 0 {
		return 1
	}
	return 1 + int(r.ContentLength/costUnit)
}

// admit charges an authenticated request of the given cost to its organization.
func (l *limiters) admit(org *tenant.Organization, cost int) (time.Duration, bool) {
	if org.RateLimit.Unlimited() {
		return 0, false
	}
	now := l.now()
	lim, burst := l.bucket(org, now)
	return takeN(lim, now, min(cost, burst))
}

// owe charges an organization for work already done (a read's memberships): its bucket goes into
// debt rather than refuse, so the requests after it wait. Refusing after the work would leave the
// tokens in the bucket, and the next request could do the same work again for the price of one.
func (l *limiters) owe(org *tenant.Organization, cost int) {
	if org.RateLimit.Unlimited() || cost <= 0 {
		return
	}
	l.owing.Lock()
	defer l.owing.Unlock()
	now := l.now()
	lim, burst := l.bucket(org, now)
	// Never cancelled, and never more than one burst of debt of its own, however many such
	// requests ran at once.
	if n := min(cost, burst, int(math.Floor(lim.TokensAt(now)))+burst); n > 0 {
		lim.ReserveN(now, n)
	}
}

// admitOwing admits a write that costs now at once and may owe more once it is done (a group's
// members beyond what the burst pays for, or those a replace removes without naming them):
// refused while the organization is in debt, or while another such write of it is in flight
// (owingWrites). With a small burst a request's own cost goes at authentication and its
// members' part is admitted with nothing in the bucket, so without them writes arriving together
// could each run up a debt. settle, called with what the write turned out to cost (at least once;
// later calls do nothing), owes the rest and lets the next one in.
func (l *limiters) admitOwing(org *tenant.Organization, now int) (wait time.Duration, limited bool, settle func(cost int)) {
	if org.RateLimit.Unlimited() {
		return 0, false, func(int) {}
	}
	l.owing.Lock()
	defer l.owing.Unlock()
	at := l.now()
	lim, burst := l.bucket(org, at)
	if tokens := lim.TokensAt(at); tokens < 0 {
		return time.Duration(-tokens / float64(lim.Limit()) * float64(time.Second)), true, nil
	}
	if l.owingWrites[org.Name] {
		return time.Second, true, nil
	}
	if now > 0 {
		if wait, limited := takeN(lim, at, min(now, burst)); limited {
			return wait, true, nil
		}
	}
	l.owingWrites[org.Name] = true
	var once sync.Once
	return 0, false, func(cost int) {
		once.Do(func() {
			l.owing.Lock()
			defer l.owing.Unlock()
			delete(l.owingWrites, org.Name)
			if cost -= now; cost > 0 {
				at := l.now()
				lim, burst := l.bucket(org, at)
				reserve(lim, at, cost, burst)
			}
		})
	}
}

// reserve takes cost tokens from lim, into debt: a reservation takes at most a burst.
func reserve(lim *rate.Limiter, at time.Time, cost, burst int) {
	for ; cost > 0; cost -= burst {
		lim.ReserveN(at, min(cost, burst))
	}
}

// bucket is an organization's limiter, made or brought up to its ScimIntegration's limit.
func (l *limiters) bucket(org *tenant.Organization, now time.Time) (*rate.Limiter, int) {
	perSecond, burst := org.RateLimit.RequestsPerSecond, max(org.RateLimit.Burst, 1)
	lim, ok := l.orgs.Get(org.Name)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(perSecond), burst)
		if prev, found, _ := l.orgs.PeekOrAdd(org.Name, lim); found {
			lim = prev
		}
	}
	// The ScimIntegration may have changed since the bucket was made.
	if lim.Limit() != rate.Limit(perSecond) {
		lim.SetLimitAt(now, rate.Limit(perSecond))
	}
	if lim.Burst() != burst {
		lim.SetBurstAt(now, burst)
	}
	return lim, burst
}

// take takes a token, or reports how long until one is available (without taking it).
func take(lim *rate.Limiter, now time.Time) (time.Duration, bool) { return takeN(lim, now, 1) }

// takeN takes n tokens (at most the burst), or reports how long until they are available.
func takeN(lim *rate.Limiter, now time.Time, n int) (time.Duration, bool) {
	r := lim.ReserveN(now, n)
	if !r.OK() {
		return time.Minute, true // burst 0: never allowed
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d, true
	}
	return 0, false
}

// tooManyRequests answers 429 with Retry-After in whole seconds (RFC 9110 §10.2.3), at least 1.
func tooManyRequests(w http.ResponseWriter, wait time.Duration) *Error {
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return &Error{Status: http.StatusTooManyRequests,
		Detail: "Too many requests; retry after " + strconv.Itoa(secs) + " seconds"}
}
