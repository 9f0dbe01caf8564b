package main

import (
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// The local cluster admin (system:masters) exists only with --local, where the process started
// its own control plane; anywhere else requests without an identity stay unauthenticated.
func TestLocalUserOnlyWithLocal(t *testing.T) {
	if who := localUser(options{}); who != nil {
		t.Fatalf("without --local: %+v", who)
	}
	who := localUser(options{local: true})
	if who == nil || who.Source != service.Local {
		t.Fatalf("with --local: %+v", who)
	}
	if _, err := who.ImpersonationConfig(false); err == nil {
		t.Fatal("the local admin was impersonated by a process without --local")
	}
}
