package adminapi

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// Failed sign-ins (a Kubernetes token the API server did not accept, on the wizard's form or as
// an admin API bearer token) are limited per source address: each costs a TokenReview on the
// API server, and guessing needs many. Successful sign-ins cost nothing here, so an admin's
// scripted API calls are never slowed.
const (
	failedSignInsPerMinute = 10
	failedSignInBurst      = 20
	// maxSignInSources bounds the buckets kept (about 200 bytes each): a flood from many addresses
	// recycles the least recently seen ones instead of growing memory.
	maxSignInSources = 10000
)

// signInGuard holds a token bucket per source address.
type signInGuard struct {
	once    sync.Once
	sources *lru.Cache[string, *rate.Limiter]
}

func (g *signInGuard) limiter(source string) *rate.Limiter {
	g.once.Do(func() { g.sources, _ = lru.New[string, *rate.Limiter](maxSignInSources) })
	lim, ok := g.sources.Get(source)
	if !ok {
		lim = rate.NewLimiter(rate.Limit(failedSignInsPerMinute/60.0), failedSignInBurst)
		if prev, found, _ := g.sources.PeekOrAdd(source, lim); found {
			lim = prev
		}
	}
	return lim
}

// wait says how long a source must wait before its next sign-in attempt is reviewed (0: now).
func (g *signInGuard) wait(source string, now time.Time) time.Duration {
	lim := g.limiter(source)
	if lim.TokensAt(now) >= 1 {
		return 0
	}
	r := lim.ReserveN(now, 1)
	defer r.CancelAt(now)
	return r.DelayFrom(now)
}

// failed charges a refused sign-in to its source.
func (g *signInGuard) failed(source string, now time.Time) { g.limiter(source).AllowN(now, 1) }

// sourceAddress is the TCP peer's address (never a forwarded header, which the peer chooses).
func sourceAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// TooManySignIns is the refusal of a source over its failed sign-in budget.
type TooManySignIns struct{ RetryAfter time.Duration }

func (e *TooManySignIns) Error() string {
	return "Too many refused sign-ins from your address; try again in " + e.RetryAfter.Round(time.Second).String()
}

// SetRetryAfter writes the Retry-After header (whole seconds, at least 1).
func (e *TooManySignIns) SetRetryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Max(1, math.Ceil(e.RetryAfter.Seconds())))))
}
