package service

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// slowAPIServer answers TokenReviews (accepting tokens that start with "good-") only once
// released, counting those that reached it.
type slowAPIServer struct {
	reached atomic.Int64
	release chan struct{}
	open    func()
}

func newSlowAPIServer(t *testing.T) (*slowAPIServer, client.Client) {
	a := &slowAPIServer{release: make(chan struct{})}
	a.open = sync.OnceFunc(func() { close(a.release) })
	t.Cleanup(a.open) // a failed test leaves no review waiting
	k8s := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
			a.reached.Add(1)
			select {
			case <-a.release:
			case <-ctx.Done():
				return ctx.Err()
			}
			review := obj.(*authenticationv1.TokenReview)
			if strings.HasPrefix(review.Spec.Token, "good-") {
				review.Status.Authenticated, review.Status.User.Username = true, "alice"
			}
			return nil
		}}).Build()
	return a, k8s
}

// flood signs in n times at once (token and source of attempt i chosen by the caller) and
// returns once every attempt either reached the API server or was answered, with how many were
// refused as too many; the attempts that reached it go on until the server is released.
func flood(t *testing.T, s *Service, a *slowAPIServer, n int, attempt func(i int) (source, token string)) (refused int64, wait func()) {
	t.Helper()
	var answered, tooMany atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			source, token := attempt(i)
			_, _, err := s.SignIn(context.Background(), source, token)
			if e := (*TooManySignIns)(nil); errors.As(err, &e) {
				tooMany.Add(1)
			}
			answered.Add(1)
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); a.reached.Load()+answered.Load() < int64(n); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts reached the API server and %d were answered, of %d", a.reached.Load(), answered.Load(), n)
		}
	}
	return tooMany.Load(), wg.Wait
}

// A hundred attempts at once from one source, each with another bad token, while the API server
// is slow: they must not all pass the budget before the first review is charged. At most
// maxReviewsPerSource are reviewed at once, and no more than the burst in all.
func TestConcurrentBadTokensFromOneSourceReachTheAPIServerAtMostTheBurst(t *testing.T) {
	a, k8s := newSlowAPIServer(t)
	s := &Service{Client: k8s}
	refused, wait := flood(t, s, a, 100, func(i int) (string, string) { return "10.0.0.1", "guess-" + strconv.Itoa(i) })
	if n := a.reached.Load(); n > maxReviewsPerSource || refused != 100-n {
		t.Fatalf("%d reviews at once from one source (%d refused as too many), want at most %d", n, refused, maxReviewsPerSource)
	}
	a.open()
	wait()
	for i := range 100 {
		_, _, _ = s.SignIn(context.Background(), "10.0.0.1", "again-"+strconv.Itoa(i))
	}
	if n := a.reached.Load(); n != failedSignInBurst {
		t.Fatalf("%d TokenReviews for one source's bad tokens, want its burst (%d)", n, failedSignInBurst)
	}
	if _, ok, err := s.SignIn(context.Background(), "10.0.0.2", "good-admin"); !ok || err != nil {
		t.Fatalf("another source's good token: %v %v", ok, err)
	}
}

// Many sources at once, each within its budget: at most maxReviews are in flight on a replica.
func TestReviewsInFlightAreBoundedPerReplica(t *testing.T) {
	a, k8s := newSlowAPIServer(t)
	s := &Service{Client: k8s}
	refused, wait := flood(t, s, a, 40, func(i int) (string, string) { return "10.0.1." + strconv.Itoa(i), "guess" })
	if n := a.reached.Load(); n != maxReviews || refused != 40-maxReviews {
		t.Fatalf("%d reviews in flight (%d refused as too many), want %d", n, refused, maxReviews)
	}
	a.open()
	wait()
	if _, ok, err := s.SignIn(context.Background(), "10.0.1.99", "good-admin"); !ok || err != nil {
		t.Fatalf("a sign-in once the reviews ended: %v %v", ok, err)
	}
}

// A review that fails (the client hung up, the API server throttled or timed out) is charged as
// a refusal: the 21st attempt is refused without a review. Its error lines are few.
func TestFailedReviewsAreChargedToTheSource(t *testing.T) {
	for name, fail := range map[string]struct {
		err      error
		hungUp   bool
		maxLines int
	}{
		"the client hung up":             {context.Canceled, true, 0},
		"the API server throttled":       {apierrors.NewTooManyRequests("too many requests", 1), false, 1},
		"the API server timed out":       {apierrors.NewTimeoutError("request timed out", 1), false, 1},
		"the API server was unreachable": {errors.New("dial tcp 10.96.0.1:443: connect: connection refused"), false, 1},
	} {
		t.Run(name, func(t *testing.T) {
			var reviews atomic.Int64
			k8s := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
				Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
					reviews.Add(1)
					return fail.err
				}}).Build()
			var logs bytes.Buffer
			s := &Service{Client: k8s, Log: slog.New(slog.NewTextHandler(&logs, nil))}
			ctx, cancel := context.WithCancel(context.Background())
			if fail.hungUp {
				cancel()
			}
			defer cancel()
			var errs []error
			for i := range failedSignInBurst + 5 {
				_, ok, err := s.SignIn(ctx, "10.0.0.1", "guess-"+strconv.Itoa(i))
				if ok {
					t.Fatal("a failed review signed in")
				}
				errs = append(errs, err)
			}
			tooMany, failed := (*TooManySignIns)(nil), (*Error)(nil)
			if n := reviews.Load(); n != failedSignInBurst || !errors.As(errs[failedSignInBurst], &tooMany) {
				t.Fatalf("%d TokenReviews, and attempt %d answered %v; want the burst (%d), then too many sign-ins",
					n, failedSignInBurst+1, errs[failedSignInBurst], failedSignInBurst)
			}
			if !errors.As(errs[0], &failed) || failed.Status != http.StatusServiceUnavailable {
				t.Fatalf("a failed review answered %v, want a 503 refusal", errs[0])
			}
			if n := strings.Count(logs.String(), "level=ERROR"); n > fail.maxLines {
				t.Fatalf("%d error lines for %d failed reviews, want at most %d:\n%s", n, failedSignInBurst, fail.maxLines, logs.String())
			}
		})
	}
}

// Accepted tokens are given their charge back: an admin signing in with many fresh tokens
// spends none of the source's budget for bad ones.
func TestAcceptedTokensAreNotCharged(t *testing.T) {
	a, k8s := newSlowAPIServer(t)
	a.open()
	s := &Service{Client: k8s}
	for i := range 2 * failedSignInBurst {
		if _, ok, err := s.SignIn(context.Background(), "10.0.0.1", "good-"+strconv.Itoa(i)); !ok || err != nil {
			t.Fatalf("good token %d: %v %v", i, ok, err)
		}
	}
	before := a.reached.Load()
	for i := range failedSignInBurst + 1 {
		_, _, _ = s.SignIn(context.Background(), "10.0.0.1", "guess-"+strconv.Itoa(i))
	}
	if n := a.reached.Load() - before; n != failedSignInBurst {
		t.Fatalf("%d bad tokens reviewed after the good ones, want the whole burst (%d)", n, failedSignInBurst)
	}
}
