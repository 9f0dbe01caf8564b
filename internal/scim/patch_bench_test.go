package scim

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// The PATCH algorithms alone, at sizes above the request limits (limits.go refuses these over
// HTTP before any of this runs): they must stay O(n log n) so that what the limits admit is cheap
// and a raised limit does not bring back the quadratic stall of issue 10.

func distinctEmails(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"value": fmt.Sprintf("user%05d@example.com", i), "type": "work"}
	}
	return out
}

func BenchmarkApplyPatchAddEmails(b *testing.B) {
	for _, n := range []int{1000, 5000, 20000} {
		b.Run(fmt.Sprintf("emails=%d", n), func(b *testing.B) {
			doc := map[string]any{"userName": "big", "active": true}
			ops := []patchOperation{{Op: "add", Path: "emails", Value: distinctEmails(n)}}
			for b.Loop() {
				if _, _, err := applyPatch(schema.UserType, store.KindUser, doc, ops); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkApplyPatchAddMembers(b *testing.B) {
	for _, n := range []int{1000, 20000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			members := make([]any, n)
			for i := range members {
				members[i] = map[string]any{"value": fmt.Sprintf("member-%05d", i)}
			}
			doc := map[string]any{"displayName": "everyone"}
			ops := []patchOperation{{Op: "remove", Path: "members", Value: members[:n/2]}, {Op: "add", Path: "members", Value: members}}
			for b.Loop() {
				if _, _, err := applyPatch(schema.GroupType, store.KindGroup, doc, ops); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRefuseBigPatch is what the PATCH of issue 10 (20,000 emails, 409 KB) costs now that it
// is refused: decoding the body as readBody does, and parsePatch's limit check.
func BenchmarkRefuseBigPatch(b *testing.B) {
	body, err := json.Marshal(map[string]any{"Operations": []any{map[string]any{"op": "add", "path": "emails", "value": distinctEmails(20000)}}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		doc, ok := decodeBody(body)
		if !ok {
			b.Fatal("not decoded")
		}
		if _, _, err := parsePatch(doc); err == nil || err.(*Error).ScimType != typeTooMany {
			b.Fatalf("not refused: %v", err)
		}
	}
}

// BenchmarkApplyPatchWorstAdmitted is about the most work the limits admit for one attribute: a
// user with 1,000 emails and a PATCH of 1,000 operations on that list, each naming one value
// again (add) or selecting one by a value filter (every operation visits the whole list).
func BenchmarkApplyPatchWorstAdmitted(b *testing.B) {
	emails := distinctEmails(maxAttributeValues)
	doc := map[string]any{"userName": "big", "active": true, "emails": emails}
	for _, kind := range []string{"add", "filtered"} {
		b.Run(kind, func(b *testing.B) {
			ops := make([]patchOperation, maxPatchOperations)
			for i := range ops {
				e := emails[i%len(emails)].(map[string]any)
				ops[i] = patchOperation{Op: "add", Path: "emails", Value: e}
				if kind == "filtered" {
					ops[i] = patchOperation{Op: "replace", Path: fmt.Sprintf(`emails[value eq %q].type`, e["value"]), Value: "home"}
				}
			}
			for b.Loop() {
				if _, _, err := applyPatch(schema.UserType, store.KindUser, doc, ops); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
