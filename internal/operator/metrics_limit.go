package operator

import (
	"net"
	"net/http"
	"time"

	"github.com/go-logr/logr"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/time/rate"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// /metrics answers only callers the API server authenticates and authorizes: each unseen bearer
// token costs a TokenReview, under the operator's own account and in its API priority flow, which
// every tenant's admin API, wizard and controllers share. The port is reachable by any pod (the
// chart's NetworkPolicy leaves it open for scrapers), so a pod sending fresh tokens in a loop made
// the operator ask the API server without bound. Here each source gets scrapeRate requests a
// second (a scraper asks every few seconds), and at most scrapesAtOnce are checked at once;
// beyond, 429 before any review.
const (
	scrapeRate       = 10
	scrapeBurst      = 20
	scrapesAtOnce    = 8
	scrapeSources    = 1024
	scrapeSourcesTTL = 10 * time.Minute
)

// limitedAuthentication is filters.WithAuthenticationAndAuthorization behind scrapeLimits.
func limitedAuthentication(c *rest.Config, hc *http.Client) (metricsserver.Filter, error) {
	authenticate, err := filters.WithAuthenticationAndAuthorization(c, hc)
	if err != nil {
		return nil, err
	}
	return func(log logr.Logger, h http.Handler) (http.Handler, error) {
		checked, err := authenticate(log, h)
		if err != nil {
			return nil, err
		}
		return newScrapeLimits().wrap(checked), nil
	}, nil
}

// scrapeLimits bounds the requests that reach authentication, per source and at once.
type scrapeLimits struct {
	sources *expirable.LRU[string, *rate.Limiter]
	atOnce  chan struct{}
}

func newScrapeLimits() *scrapeLimits {
	return &scrapeLimits{
		sources: expirable.NewLRU[string, *rate.Limiter](scrapeSources, nil, scrapeSourcesTTL),
		atOnce:  make(chan struct{}, scrapesAtOnce),
	}
}

func (l *scrapeLimits) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		source, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			source = r.RemoteAddr
		}
		lim, ok := l.sources.Get(source)
		if !ok {
			// Two callers new at once may each make one: the second's replaces the first's, a
			// burst more for that source once.
			lim = rate.NewLimiter(scrapeRate, scrapeBurst)
			l.sources.Add(source, lim)
		}
		if !lim.Allow() {
			tooManyScrapes(w)
			return
		}
		select {
		case l.atOnce <- struct{}{}:
			defer func() { <-l.atOnce }()
		default:
			tooManyScrapes(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func tooManyScrapes(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, "Too many requests", http.StatusTooManyRequests)
}
