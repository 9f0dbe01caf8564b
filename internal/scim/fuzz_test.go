package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Fuzz targets for what parses client input besides filters (issue 10): PATCH bodies and paths,
// and resource bodies. Seed corpora are in testdata/fuzz/<FuzzName>/ (requests of the IdP replays
// in test/idp, and crashers once found); go test runs them as ordinary tests, make fuzz explores.
// Each target checks more than "no panic": a refusal is an RFC 7644 client error, and what is
// accepted is canonical (canonicalising it again changes nothing).

// decodeBody decodes like readBody (numbers kept as json.Number); ok is false for non-objects.
func decodeBody(data []byte) (map[string]any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out map[string]any
	if dec.Decode(&out) != nil || out == nil {
		return nil, false
	}
	return out, true
}

// wantClientError fails unless err is a SCIM 4xx error with a detail.
func wantClientError(t *testing.T, what string, err error) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) || se.Status < 400 || se.Status > 499 || se.Detail == "" {
		t.Fatalf("%s: %v is not a SCIM client error", what, err)
	}
}

// wantCanonical fails unless doc is a fixed point of canonicalize.
func wantCanonical(t *testing.T, rt *schema.ResourceType, doc map[string]any) {
	t.Helper()
	again, err := canonicalize(rt, doc)
	if err != nil {
		t.Fatalf("canonical %s document refused: %v", rt.Name, err)
	}
	if valueKey(again) != valueKey(doc) {
		t.Fatalf("canonicalize is not idempotent:\n%v\n%v", doc, again)
	}
	if _, err := json.Marshal(doc); err != nil {
		t.Fatalf("canonical document does not encode: %v", err)
	}
}

// fuzzDocs are the stored documents PATCHes are applied to.
func fuzzDocs() []struct {
	rt   *schema.ResourceType
	kind store.Kind
	doc  map[string]any
} {
	user := map[string]any{
		"userName": "ada", "active": true, "displayName": "Ada", "title": "Engineer",
		"name":                   map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
		"emails":                 []any{map[string]any{"value": "ada@example.com", "type": "work", "primary": true}, map[string]any{"value": "ada@home.example", "type": "home"}},
		"phoneNumbers":           []any{map[string]any{"value": "555", "type": "mobile"}},
		schema.EnterpriseUserURN: map[string]any{"department": "R&D", "manager": map[string]any{"value": "m1"}},
	}
	return []struct {
		rt   *schema.ResourceType
		kind store.Kind
		doc  map[string]any
	}{
		{schema.UserType, store.KindUser, user},
		{schema.GroupType, store.KindGroup, map[string]any{"displayName": "Engineers", "externalId": "e1"}},
	}
}

func FuzzPatch(f *testing.F) {
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"x@example.com"}]}`))
	f.Add([]byte(`{"Operations":[{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]},{"op":"remove","path":"members[value eq \"a\"]"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		body, ok := decodeBody(data)
		if !ok {
			return
		}
		ops, _, err := parsePatch(body)
		if err != nil {
			wantClientError(t, "parsePatch", err)
			return
		}
		if len(ops) == 0 || len(ops) > maxPatchOperations {
			t.Fatalf("parsePatch accepted %d operations", len(ops))
		}
		for _, d := range fuzzDocs() {
			before := valueKey(d.doc)
			out, change, err := applyPatch(d.rt, d.kind, d.doc, ops)
			if valueKey(d.doc) != before {
				t.Fatal("applyPatch changed the document it was given")
			}
			if err != nil {
				wantClientError(t, "applyPatch", err)
				continue
			}
			wantCanonical(t, d.rt, out)
			if change == nil {
				continue
			}
			if d.kind != store.KindGroup {
				t.Fatal("a member change for a user")
			}
			seen := map[string]bool{}
			for _, id := range change.Add {
				if seen[id] {
					t.Fatalf("member %q added twice", id)
				}
				seen[id] = true
			}
			for _, id := range change.Remove {
				if seen[id] {
					t.Fatalf("member %q both added and removed", id)
				}
			}
			if change.Replace && len(change.Remove) > 0 {
				t.Fatal("a replacing member change also removes")
			}
		}
	})
}

func FuzzPatchPath(f *testing.F) {
	for _, p := range []string{`emails[type eq "work"].value`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager`, `members[value eq "x"]`, `name.givenName`} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		for _, d := range fuzzDocs() {
			for _, op := range []struct {
				op    string
				value any
			}{{"add", "x@example.com"}, {"replace", map[string]any{"value": "v", "type": "work"}}, {"remove", nil}} {
				ops := []patchOperation{{Op: op.op, Path: path, Value: op.value}}
				out, _, err := applyPatch(d.rt, d.kind, d.doc, ops)
				if err != nil {
					wantClientError(t, op.op+" "+path, err)
					continue
				}
				wantCanonical(t, d.rt, out)
			}
		}
	})
}

func FuzzResourceBody(f *testing.F) {
	f.Add([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada","active":"True","emails":[{"value":"ada@example.com","primary":true}]}`))
	f.Add([]byte(`{"displayName":"Engineers","members":[{"value":"u1","display":"Ada"},"u2"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		body, ok := decodeBody(data)
		if !ok {
			return
		}
		if err := checkResourceBody(body); err != nil {
			wantClientError(t, "checkResourceBody", err)
			return
		}
		for _, d := range fuzzDocs() {
			doc, err := canonicalize(d.rt, body)
			if err != nil {
				wantClientError(t, "canonicalize", err)
				continue
			}
			members := doc["members"]
			delete(doc, "members") // as takeMembers: they live in the join table
			ids, err := memberIDs(members)
			if err != nil {
				wantClientError(t, "memberIDs", err)
			} else if len(ids) > maxMembersPerRequest {
				t.Fatalf("%d members passed the limit", len(ids))
			}
			res := &store.Resource{}
			if err := indexed(d.kind, doc, res); err != nil {
				wantClientError(t, "indexed", err)
				continue
			}
			wantCanonical(t, d.rt, doc)
		}
	})
}

// FuzzPatchPathShortcut checks that the paths parsePatchPath reads itself are parsed by the
// filter parser into the same AST.
func FuzzPatchPathShortcut(f *testing.F) {
	for _, p := range []string{`emails`, `name.givenName`, `$ref`, `emails[type eq "work"].value`, `members[value eq "ü 1"]`, `emails[type eq ""]`} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		fast, ok := simplePatchPath(path)
		if !ok {
			return
		}
		slow, err := filter.ParsePath([]byte(path))
		if err != nil {
			t.Fatalf("%q: read directly, refused by the parser: %v", path, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q: read directly as %#v, parsed as %#v", path, fast, slow)
		}
	})
}
