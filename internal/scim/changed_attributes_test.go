package scim

import (
	"slices"
	"testing"
)

// The audit names the attributes a write changed: added (unless null), changed, removed; sorted.
func TestChangedAttributesNameWhatAWriteChanged(t *testing.T) {
	created := changedAttributes(nil, map[string]any{"userName": "a", "active": true, "nickName": nil, "emails": []any{}})
	if want := []string{"active", "emails", "userName"}; !slices.Equal(created, want) {
		t.Fatalf("a create: %v, want %v", created, want)
	}
	before := map[string]any{"userName": "a", "active": true, "name": map[string]any{"givenName": "A"}, "title": "x", "nickName": nil}
	after := map[string]any{"userName": "a", "active": false, "name": map[string]any{"givenName": "A"}, "nickName": nil, "locale": nil,
		"emails": []any{map[string]any{"value": "a@x"}}}
	if got, want := changedAttributes(before, after), []string{"active", "emails", "title"}; !slices.Equal(got, want) {
		t.Fatalf("an update: %v, want %v", got, want)
	}
}
