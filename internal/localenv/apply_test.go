package localenv

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestLocalSamplesGetALiftedRateLimitUnlessTheySetOne(t *testing.T) {
	scim := &unstructured.Unstructured{Object: map[string]any{"kind": "ScimIntegration", "spec": map[string]any{}}}
	liftRateLimit(scim)
	if rps, _, _ := unstructured.NestedInt64(scim.Object, "spec", "rateLimit", "requestsPerSecond"); rps != LocalRateLimit {
		t.Fatalf("requestsPerSecond %d", rps)
	}
	own := &unstructured.Unstructured{Object: map[string]any{"kind": "ScimIntegration",
		"spec": map[string]any{"rateLimit": map[string]any{"requestsPerSecond": int64(5)}}}}
	liftRateLimit(own)
	if rps, _, _ := unstructured.NestedInt64(own.Object, "spec", "rateLimit", "requestsPerSecond"); rps != 5 {
		t.Fatalf("a sample's own limit was replaced: %d", rps)
	}
	other := &unstructured.Unstructured{Object: map[string]any{"kind": "EnterpriseIdentity", "spec": map[string]any{}}}
	liftRateLimit(other)
	if _, found, _ := unstructured.NestedMap(other.Object, "spec", "rateLimit"); found {
		t.Fatal("only ScimIntegrations get a rate limit")
	}
}
