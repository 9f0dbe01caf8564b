package scim

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Large bodies cost their organization more of its budget: an organization at its limit cannot
// fill the CPU with 400 KB PATCHes that each cost what a small request does.
func TestLargeBodiesCostMoreOfTheBudget(t *testing.T) {
	small := httptest.NewRequestWithContext(t.Context(), "PATCH", "/scim/v2/acme/Users/1", strings.NewReader(`{"Operations":[]}`))
	large := httptest.NewRequestWithContext(t.Context(), "PATCH", "/scim/v2/acme/Users/1", strings.NewReader(strings.Repeat("x", 400<<10)))
	if got := requestCost(small); got != 1 {
		t.Fatalf("a small body costs %d", got)
	}
	if got := requestCost(large); got != 13 {
		t.Fatalf("a 400 KB body costs %d, want 13", got)
	}

	l := newLimiters(0, 0, 0)
	now := time.Unix(1700000000, 0)
	l.now = func() time.Time { return now }
	org := &tenant.Organization{Name: "acme", RateLimit: tenant.RateLimit{RequestsPerSecond: 10, Burst: 20}}
	if _, limited := l.admit(org, requestCost(large)); limited {
		t.Fatal("the first large request is over the burst")
	}
	if _, limited := l.admit(org, requestCost(large)); !limited {
		t.Fatal("a second large request fits a burst of 20 small ones")
	}
	for i := range 7 {
		if _, limited := l.admit(org, requestCost(small)); limited {
			t.Fatalf("small request %d refused within what the large one left", i)
		}
	}
	if _, limited := l.admit(&tenant.Organization{Name: "huge", RateLimit: tenant.RateLimit{RequestsPerSecond: 1, Burst: 2}}, 50); limited {
		t.Fatal("a cost above the burst is never admitted: it must be capped at the burst")
	}
}

// A write that may owe (members beyond its burst, or a replace's unnamed removals) is admitted
// one at a time per organization and refused while the organization is in debt: with a burst of
// one, its own cost taken at authentication, it pays nothing at once, and writes arriving
// together would each run up a debt none of the others saw. What it owes is settled once.
func TestWritesThatMayOweTakeTurnsAndDebtRefuses(t *testing.T) {
	l := newLimiters(0, 0, 0)
	now := time.Unix(1700000000, 0)
	l.now = func() time.Time { return now }
	org := &tenant.Organization{Name: "acme", RateLimit: tenant.RateLimit{RequestsPerSecond: 1, Burst: 1}}
	other := &tenant.Organization{Name: "other", RateLimit: tenant.RateLimit{RequestsPerSecond: 1, Burst: 1}}
	_, limited, settleA := l.admitOwing(org, 0)
	if limited {
		t.Fatal("the first write is refused")
	}
	if _, limited, _ := l.admitOwing(org, 0); !limited {
		t.Fatal("a second write that may owe is admitted while the first is in flight")
	}
	if _, limited, settle := l.admitOwing(other, 0); limited {
		t.Fatal("another organization's write waits for this one's")
	} else {
		settle(0)
	}
	settleA(40)
	settleA(400) // settled once
	wait, limited, _ := l.admitOwing(org, 0)
	if !limited || wait < 39*time.Second || wait > 41*time.Second {
		t.Fatalf("in debt of 40 at 1 a second: limited %v, wait %v", limited, wait)
	}
	now = now.Add(41 * time.Second)
	_, limited, settleB := l.admitOwing(org, 0)
	if limited {
		t.Fatal("refused once the debt is paid")
	}
	settleB(0)
	if len(l.owingWrites) != 0 {
		t.Fatalf("writes in flight once all settled: %v", l.owingWrites)
	}
}

// A PATCH that may remove members it does not name is told from one that names them: Entra's
// removes list them, and must not take turns with each other.
func TestReplacesMembers(t *testing.T) {
	for body, want := range map[string]bool{
		`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"u1"}]}]}`:                                false,
		`{"Operations":[{"op":"Add","path":"members","value":[{"value":"u1"}]}]}`:                                   false,
		`{"Operations":[{"op":"remove","path":"members[value eq \"u1\"]"}]}`:                                        false,
		`{"Operations":[{"op":"replace","path":"displayName","value":"x"}]}`:                                        false,
		`{"Operations":[{"op":"remove","path":"members"}]}`:                                                         true,
		`{"Operations":[{"op":"replace","path":"members","value":[{"value":"u1"}]}]}`:                               true,
		`{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:Group:members","value":[]}]}`: true,
		`{"Operations":[{"op":"replace","value":{"displayName":"x","Members":[]}}]}`:                                true,
	} {
		var doc map[string]any
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		ops, _, err := parsePatch(doc)
		if err != nil {
			t.Fatal(err)
		}
		if got := replacesMembers(ops); got != want {
			t.Errorf("%s: replacesMembers %v, want %v", body, got, want)
		}
	}
}
