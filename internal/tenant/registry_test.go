package tenant

import (
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

func cred(tok string, notAfter time.Time, current bool) Credential {
	c := Credential{NotAfter: notAfter, Current: current}
	b, _ := hex.DecodeString(token.Hash(tok))
	copy(c.SHA256[:], b)
	return c
}

func TestAuthenticate(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := NewRegistry()
	r.now = func() time.Time { return now }
	acme := types.NamespacedName{Namespace: "acme", Name: "acme"}
	r.Set(&Organization{Name: "acme", Integration: acme, Enabled: true, Credentials: []Credential{
		cred("current-token", time.Time{}, true),
		cred("previous-token", now.Add(time.Hour), false),
		cred("expired-previous", now.Add(-time.Second), false),
	}})
	r.Set(&Organization{Name: "off", Integration: types.NamespacedName{Namespace: "off", Name: "off"}, Enabled: false,
		Credentials: []Credential{cred("off-token", time.Time{}, true)}})

	cases := []struct {
		name, org, token string
		want             error
		current          bool
	}{
		{"the current token", "acme", "current-token", nil, true},
		{"the previous token during the overlap", "acme", "previous-token", nil, false},
		{"the previous token after the overlap", "acme", "expired-previous", ErrUnauthorized, false},
		{"a wrong token", "acme", "guess", ErrUnauthorized, false},
		{"no token", "acme", "", ErrUnauthorized, false},
		{"an unknown organization", "nope", "current-token", ErrUnauthorized, false},
		{"another organization's token", "off", "current-token", ErrUnauthorized, false},
		{"a disabled integration with its own token", "off", "off-token", ErrDisabled, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			caller, err := r.Authenticate(c.org, c.token)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if err == nil && (caller.Organization.Name != c.org || caller.Current != c.current || caller.Fingerprint != token.Fingerprint(token.Hash(c.token))) {
				t.Fatalf("unexpected caller %+v", caller)
			}
		})
	}
	select {
	case use := <-r.Uses():
		if use.Fingerprint == "" {
			t.Fatal("a use report without a fingerprint")
		}
	default:
		t.Fatal("a successful authentication must be reported")
	}
}

func TestOneIntegrationPerOrganization(t *testing.T) {
	r := NewRegistry()
	r.MarkListening(true)
	first := types.NamespacedName{Namespace: "a", Name: "first"}
	second := types.NamespacedName{Namespace: "b", Name: "second"}
	r.Set(&Organization{Name: "acme", Integration: first, Enabled: true})
	r.Set(&Organization{Name: "acme", Integration: second, Enabled: true})
	if _, err := r.Authenticate("acme", "x"); !errors.Is(err, ErrUnauthorized) {
		t.Fatal(err)
	}
	// The Source sets only the claim's holder, so the latest Set is the organization's holder.
	if !r.ServingFor("acme", second) || r.ServingFor("acme", first) {
		t.Fatal("the integration set last must serve the organization")
	}
	r.Remove(first)
	if !r.Serving("acme") {
		t.Fatal("removing the integration that no longer holds the organization must not unserve it")
	}
	r.Remove(second)
	if r.Serving("acme") {
		t.Fatal("the organization is still served after its integration went away")
	}
	r.Set(&Organization{Name: "acme", Integration: first, Enabled: true})
	r.Set(&Organization{Name: "renamed", Integration: first, Enabled: true})
	if r.Serving("acme") || !r.Serving("renamed") {
		t.Fatal("an integration moving to another organization must release the first")
	}
	r.MarkListening(false)
	if r.Serving("renamed") {
		t.Fatal("nothing is served while the HTTP server is down")
	}
}

// An organization the registry stops serving (its integration removed, or renamed to another
// slug) is reported once, after the lock, so its metrics go with it; one served by another
// integration afterwards is not.
func TestTheRegistryReportsOrganizationsNoLongerServed(t *testing.T) {
	r := NewRegistry()
	r.MarkListening(true)
	var forgotten []string
	r.SetOnForget(func(org string) {
		_ = r.Serving(org) // called without the lock held: this would deadlock otherwise
		forgotten = append(forgotten, org)
	})
	a := types.NamespacedName{Namespace: "acme", Name: "a"}
	r.Set(&Organization{Name: "acme", Integration: a})
	r.Set(&Organization{Name: "acme-renamed", Integration: a})
	r.Remove(a)
	r.Remove(a) // nothing left to forget
	if got := fmt.Sprint(forgotten); got != "[acme acme-renamed]" {
		t.Fatalf("forgotten %s, want [acme acme-renamed]", got)
	}
}
