package operator

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
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
// second (a scraper asks every few seconds), at most scrapesAtOnce are checked at once, and at
// most sourceScrapesAtOnce of one source (a few pods cannot hold every slot a scraper needs);
// beyond, 429 before any review.
const (
	scrapeRate          = 10
	scrapeBurst         = 20
	scrapesAtOnce       = 8
	sourceScrapesAtOnce = 2
	scrapeSources       = 1024
	scrapeSourcesTTL    = 10 * time.Minute
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
	mu      sync.Mutex // makes a new source's entry once
	sources *expirable.LRU[string, *scrapeSource]
	atOnce  chan struct{}
}

// scrapeSource is one source's rate and its requests being checked.
type scrapeSource struct {
	rate   *rate.Limiter
	atOnce atomic.Int32
}

func newScrapeLimits() *scrapeLimits {
	return &scrapeLimits{
		sources: expirable.NewLRU[string, *scrapeSource](scrapeSources, nil, scrapeSourcesTTL),
		atOnce:  make(chan struct{}, scrapesAtOnce),
	}
}

func (l *scrapeLimits) source(addr string) *scrapeSource {
	l.mu.Lock()
	defer l.mu.Unlock()
	src, ok := l.sources.Get(addr)
	if !ok {
		src = &scrapeSource{rate: rate.NewLimiter(scrapeRate, scrapeBurst)}
		l.sources.Add(addr, src)
	}
	return src
}

func (l *scrapeLimits) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		source, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			source = r.RemoteAddr
		}
		src := l.source(source)
		if !src.rate.Allow() {
			tooManyScrapes(w)
			return
		}
		if src.atOnce.Add(1) > sourceScrapesAtOnce {
			src.atOnce.Add(-1)
			tooManyScrapes(w)
			return
		}
		defer src.atOnce.Add(-1)
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
