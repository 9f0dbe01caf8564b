package service

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// A TokenReview that fails (the API server throttles or cannot be reached, the client went
// away) is charged to its source as a refusal is (signin_guard.go) and answered 503. It is
// logged at most once per reviewFailureLogEvery for the whole replica, with how many were left
// out since: a flood from many sources must not write an ERROR line per attempt. A client that
// went away is not the operator's failure and is not logged.
const reviewFailureLogEvery = 10 * time.Second

// errReviewFailed answers a sign-in whose TokenReview failed.
var errReviewFailed = Refuse(http.StatusServiceUnavailable, "Could not check your token just now; try again in a moment")

// reviewFailures samples the log lines of failed TokenReviews.
type reviewFailures struct {
	mu       sync.Mutex
	logged   time.Time
	unlogged int
}

// sample says whether to log a failure now, and how many were not logged before it.
func (f *reviewFailures) sample(now time.Time) (unlogged int, log bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.logged.IsZero() && now.Sub(f.logged) < reviewFailureLogEvery {
		f.unlogged++
		return 0, false
	}
	unlogged, f.unlogged, f.logged = f.unlogged, 0, now
	return unlogged, true
}

func (s *Service) reviewFailed(ctx context.Context, err error) error {
	if ctx.Err() == nil && s.Log != nil {
		if unlogged, log := s.reviewFailures.sample(time.Now()); log {
			s.Log.Error("TokenReview failed", "error", err, "failuresNotLogged", unlogged)
		}
	}
	return errReviewFailed
}
