package ui

import (
	"fmt"
	"testing"
)

// One self-test per organization at a time, maxSelfTestsPerNamespace per namespace and
// maxSelfTests in all.
func TestSelfTestsAreBoundedPerOrganizationNamespaceAndInAll(t *testing.T) {
	var g selfTestGuard
	if !g.start("acme", "acme") || g.start("acme", "acme") {
		t.Fatal("a second self-test of one organization started beside the first")
	}
	if !g.start("acme-eu", "acme") || g.start("acme-us", "acme") {
		t.Fatalf("one namespace ran other than %d self-tests at once", maxSelfTestsPerNamespace)
	}
	for i := maxSelfTestsPerNamespace; i < maxSelfTests; i++ {
		if !g.start(fmt.Sprint("org-", i), fmt.Sprint("ns-", i)) {
			t.Fatalf("self-test %d of %d refused", i+1, maxSelfTests)
		}
	}
	if g.start("one-too-many", "elsewhere") {
		t.Fatalf("self-test %d started", maxSelfTests+1)
	}
	g.done("acme", "acme")
	if !g.start("acme-us", "acme") {
		t.Fatal("a finished self-test's namespace cannot run another")
	}
}
