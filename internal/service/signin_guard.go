package service

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Failed sign-ins (a Kubernetes token the API server did not accept, on the wizard's form or as
// an admin API bearer token) are limited per source address: each costs a TokenReview on the
// API server, made as the operator's service account (in the same API priority and fairness
// flow as every admin's access checks), and guessing needs many. The budget is charged before
// the review and given back only when the token is accepted: charging after the answer let
// concurrent attempts all pass before the first was charged, and a review that failed (the
// client hung up, the API server throttled) was never charged. Successful sign-ins cost nothing
// here, so an admin's scripted API calls are never slowed.
const (
	failedSignInsPerMinute = 10
	failedSignInBurst      = 20
	// maxSignInSources bounds the budgets kept (about 200 bytes each): a flood from many
	// addresses recycles the least recently seen ones instead of growing memory.
	maxSignInSources = 10000
	// Reviews of tokens not known good in flight at once, per source and per replica: a slow or
	// throttling API server must not gather a source's whole burst, or every source's, at once.
	maxReviewsPerSource = 2
	maxReviews          = 16
	// busyRetryAfter is the Retry-After of a sign-in refused for reviews in flight, and
	// signInReviewTimeout bounds how long a review holds its place (an API server that hangs).
	busyRetryAfter      = time.Second
	signInReviewTimeout = 10 * time.Second
)

// signInGuard holds a budget per source address and counts the reviews in flight.
type signInGuard struct {
	once      sync.Once
	sources   *lru.Cache[string, *signInBudget]
	mu        sync.Mutex
	reviewing int
}

// signInBudget is one source's token bucket of failed sign-ins, and its reviews in flight.
type signInBudget struct {
	mu        sync.Mutex
	tokens    float64
	last      time.Time
	reviewing int
}

// signInTurn is one admitted review; done must follow it.
type signInTurn struct {
	g       *signInGuard
	b       *signInBudget
	charged bool // a failure was charged in advance
	counted bool // it holds a place among the reviews in flight
}

func (g *signInGuard) budget(source string, now time.Time) *signInBudget {
	g.once.Do(func() { g.sources, _ = lru.New[string, *signInBudget](maxSignInSources) })
	b, ok := g.sources.Get(source)
	if !ok {
		b = &signInBudget{tokens: failedSignInBurst, last: now}
		if prev, found, _ := g.sources.PeekOrAdd(source, b); found {
			b = prev
		}
	}
	return b
}

// refill adds what the time since the last look earned (caller holds b.mu).
func (b *signInBudget) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens = min(failedSignInBurst, b.tokens+now.Sub(b.last).Minutes()*failedSignInsPerMinute)
		b.last = now
	}
}

// admit charges a review to its source in advance, or refuses it. A token accepted within
// knownTokenTTL (known) is reviewed whatever the budget, uncharged when the budget is spent (an
// admin at work keeps working through a flood), and outside the bound on reviews in flight.
func (g *signInGuard) admit(source string, now time.Time, known bool) (*signInTurn, *TooManySignIns) {
	b := g.budget(source, now)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	t := &signInTurn{g: g, b: b}
	if b.tokens >= 1 {
		b.tokens--
		t.charged = true
	} else if !known {
		return nil, &TooManySignIns{RetryAfter: time.Duration((1 - b.tokens) / failedSignInsPerMinute * float64(time.Minute))}
	}
	if known {
		return t, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if b.reviewing >= maxReviewsPerSource || g.reviewing >= maxReviews {
		b.tokens++ // refused unreviewed: nothing to charge
		return nil, &TooManySignIns{RetryAfter: busyRetryAfter, AtOnce: true}
	}
	b.reviewing++
	g.reviewing++
	t.counted = true
	return t, nil
}

// done ends a review: an accepted token is given its charge back; a refused one not charged in
// advance (known, over budget) is charged if the budget allows. A review that failed keeps its
// charge, as a refusal does.
func (t *signInTurn) done(now time.Time, accepted, refused bool) {
	b := t.b
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	switch {
	case accepted && t.charged:
		b.tokens = min(failedSignInBurst, b.tokens+1)
	case refused && !t.charged && b.tokens >= 1:
		b.tokens--
	}
	if t.counted {
		b.reviewing--
		t.g.mu.Lock()
		t.g.reviewing--
		t.g.mu.Unlock()
	}
}
