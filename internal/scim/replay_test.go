package scim_test

import (
	"context"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/test/idp"
)

// runReplay replays a recorded identity provider run (test/idp) against the harness.
func runReplay(t *testing.T, h *harness, file string) {
	idp.Run(t, file, func(method, path string, body any, headers map[string]string, wrongToken bool) idp.Response {
		hh := *h
		if wrongToken {
			hh.token = "not-the-token"
		}
		var list []string
		for k, v := range headers {
			list = append(list, k, v)
		}
		resp := hh.do(method, path, body, list...)
		return idp.Response{Status: resp.status, Body: resp.body, Raw: resp.raw}
	})
}

func TestEntraIDProvisioningRun(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		runReplay(t, h, "entra-id.json")
		// The run leaves the manager active and the hard-deleted user deactivated (the default
		// onDelete), its record kept.
		counts, err := h.st.MemberCounts(context.Background(), h.org)
		if err != nil {
			t.Fatal(err)
		}
		if counts["Active"] != 1 || counts["Deactivated"] != 1 || len(counts) != 2 {
			t.Fatalf("members after the Entra run: %v", counts)
		}
	})
}

func TestEntraIDFeatureFlagRun(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) { runReplay(t, h, "entra-id-aadoptscim062020.json") })
}

func TestOktaProvisioningRun(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) { runReplay(t, h, "okta.json") })
}

func TestOktaSpecTest(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) { runReplay(t, h, "okta-spec-test.json") })
}
