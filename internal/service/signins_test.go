package service

import (
	"strconv"
	"testing"
	"time"
)

func TestSignInGuardChargesFailuresPerSource(t *testing.T) {
	var g signInGuard
	now := time.Unix(1700000000, 0)
	for i := range failedSignInBurst {
		if wait := g.wait("10.0.0.1", now); wait != 0 {
			t.Fatalf("attempt %d waits %s within the burst", i, wait)
		}
		g.failed("10.0.0.1", now)
	}
	wait := g.wait("10.0.0.1", now)
	if wait <= 0 || wait > time.Minute {
		t.Fatalf("over the burst the source waits %s", wait)
	}
	if g.wait("10.0.0.2", now) != 0 {
		t.Fatal("another source is held back")
	}
	if g.wait("10.0.0.1", now.Add(wait)) != 0 {
		t.Fatal("the source still waits after Retry-After")
	}
}

func TestSignInGuardIsBoundedBySources(t *testing.T) {
	var g signInGuard
	now := time.Now()
	for i := range maxSignInSources + 500 {
		g.failed("src-"+strconv.Itoa(i), now)
	}
	if n := g.sources.Len(); n > maxSignInSources {
		t.Fatalf("%d sources kept, bound %d", n, maxSignInSources)
	}
}

func TestRetryAfterRoundsUpToWholeSeconds(t *testing.T) {
	if got := (&TooManySignIns{RetryAfter: 1500 * time.Millisecond}).RetryAfterSeconds(); got != 2 {
		t.Fatalf("Retry-After %d, want whole seconds rounded up", got)
	}
	if got := (&TooManySignIns{RetryAfter: time.Millisecond}).RetryAfterSeconds(); got != 1 {
		t.Fatalf("Retry-After %d, want at least 1", got)
	}
}
