package operator

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Requests for /metrics reach authentication (a TokenReview for each unseen token) a bounded
// number at a time and at a bounded rate per source: a pod sending fresh tokens in a loop had the
// operator ask the API server for each, in the flow every tenant's requests share.
func TestScrapesReachAuthenticationBoundedPerSourceAndAtOnce(t *testing.T) {
	var reached, inFlight, most atomic.Int32
	release := make(chan struct{})
	reviewing := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reached.Add(1)
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		inFlight.Add(-1)
		w.WriteHeader(http.StatusUnauthorized)
	})
	h := newScrapeLimits().wrap(reviewing)

	// Sources, 25 requests each at once: of each its burst at most is let through and
	// sourceScrapesAtOnce checked at the same time, and no more than scrapesAtOnce in all.
	var wg sync.WaitGroup
	codes := make(chan int, 100)
	for i := range 100 {
		wg.Go(func() {
			w := httptest.NewRecorder()
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil)
			r.RemoteAddr = fmt.Sprintf("10.0.0.%d:41000", i%5)
			h.ServeHTTP(w, r)
			codes <- w.Code
		})
	}
	for deadline := time.Now().Add(5 * time.Second); reached.Load() < scrapesAtOnce && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(codes)
	limited := 0
	for c := range codes {
		if c == http.StatusTooManyRequests {
			limited++
		}
	}
	if got := reached.Load(); got > 5*scrapeBurst || limited == 0 {
		t.Fatalf("%d of 100 requests from 5 sources reached authentication (%d refused)", got, limited)
	}
	if m := most.Load(); m > min(scrapesAtOnce, 5*sourceScrapesAtOnce) {
		t.Fatalf("%d authentications at once; want at most %d", m, scrapesAtOnce)
	}

	// One source's requests at once: at most sourceScrapesAtOnce, the rest refused.
	block := make(chan struct{})
	var held atomic.Int32
	one := newScrapeLimits().wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		held.Add(1)
		<-block
		w.WriteHeader(http.StatusOK)
	}))
	var wg2 sync.WaitGroup
	refused := atomic.Int32{}
	for range 6 {
		wg2.Go(func() {
			w := httptest.NewRecorder()
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil)
			r.RemoteAddr = "10.0.0.9:41000"
			one.ServeHTTP(w, r)
			if w.Code == http.StatusTooManyRequests {
				refused.Add(1)
			}
		})
	}
	for deadline := time.Now().Add(5 * time.Second); held.Load()+refused.Load() < 6 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	close(block)
	wg2.Wait()
	if held.Load() > sourceScrapesAtOnce || refused.Load() < 6-sourceScrapesAtOnce {
		t.Fatalf("one source had %d requests checked at once (%d refused); want at most %d", held.Load(), refused.Load(), sourceScrapesAtOnce)
	}

	// Another source still gets its own share.
	w := httptest.NewRecorder()
	r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil)
	r.RemoteAddr = "10.0.0.8:41000"
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("another source: %d", w.Code)
	}
}
