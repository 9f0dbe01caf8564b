package ui

import (
	"fmt"
	"testing"
)

// One self-test per organization at a time, and maxSelfTests in all.
func TestSelfTestsAreOnePerOrganizationAndFewInAll(t *testing.T) {
	var g selfTestGuard
	if !g.start("acme") || g.start("acme") {
		t.Fatal("a second self-test of one organization started beside the first")
	}
	for i := 1; i < maxSelfTests; i++ {
		if !g.start(fmt.Sprint("org-", i)) {
			t.Fatalf("self-test %d of %d refused", i+1, maxSelfTests)
		}
	}
	if g.start("one-too-many") {
		t.Fatalf("self-test %d started", maxSelfTests+1)
	}
	g.done("acme")
	if !g.start("acme") {
		t.Fatal("a finished self-test's organization cannot run again")
	}
}
