package operator

import (
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

	// One source, 100 requests at once: its burst at most is let through, and of those no more
	// than scrapesAtOnce are checked at the same time.
	var wg sync.WaitGroup
	codes := make(chan int, 100)
	for range 100 {
		wg.Go(func() {
			w := httptest.NewRecorder()
			r := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil)
			r.RemoteAddr = "10.0.0.7:41000"
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
	if got := reached.Load(); got > scrapeBurst || limited < 100-scrapeBurst {
		t.Fatalf("%d of 100 requests from one source reached authentication (%d refused); want at most %d", got, limited, scrapeBurst)
	}
	if m := most.Load(); m > scrapesAtOnce {
		t.Fatalf("%d authentications at once; want at most %d", m, scrapesAtOnce)
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
