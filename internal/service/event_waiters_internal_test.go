package service

import (
	"fmt"
	"testing"
)

// A namespace with many organizations holds at most maxWaitersPerNamespace of the waiting
// slots, so other tenants' long polls still wait instead of turning into busy polling.
func TestOneNamespaceCannotTakeEveryWaitingSlot(t *testing.T) {
	var w eventWaiters
	held := 0
	for i := range maxWaiters / maxWaitersPerOrg {
		for range maxWaitersPerOrg {
			if w.acquire(fmt.Sprint("org-", i), "greedy") {
				held++
			}
		}
	}
	if held != maxWaitersPerNamespace {
		t.Fatalf("one namespace holds %d waiting slots, want %d", held, maxWaitersPerNamespace)
	}
	if !w.acquire("quiet", "other") {
		t.Fatal("another namespace's organization finds no slot")
	}
	w.release("org-0", "greedy")
	if !w.acquire("org-0", "greedy") {
		t.Fatal("a released slot is not the namespace's again")
	}
}
