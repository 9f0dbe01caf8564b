package scim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/scim"
)

const userSchema = "urn:ietf:params:scim:schemas:core:2.0:User"

func newUser(userName string, extra map[string]any) map[string]any {
	u := map[string]any{"schemas": []string{userSchema}, "userName": userName}
	for k, v := range extra {
		u[k] = v
	}
	return u
}

func patchOps(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": list}
}

func (h *harness) create(t *testing.T, user map[string]any) string {
	t.Helper()
	r := h.do("POST", "/Users", user).want(t, http.StatusCreated)
	if loc := r.header.Get("Location"); loc == "" || loc != get(r.body, "meta.location") {
		t.Fatalf("Location %q must equal meta.location %v", loc, get(r.body, "meta.location"))
	}
	return r.body["id"].(string)
}

func names(r response) string {
	var out []string
	for _, res := range r.body["Resources"].([]any) {
		out = append(out, res.(map[string]any)["userName"].(string))
	}
	return strings.Join(out, ",")
}

func TestFiltersOverHTTP(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.create(t, newUser("a", map[string]any{"title": "x", "name": map[string]any{"familyName": "Employee"}, "emails": []any{map[string]any{"value": "a@example.com", "type": "work"}}}))
		h.create(t, newUser("b", map[string]any{"title": "y", "name": map[string]any{"familyName": "Employee"}, "emails": []any{map[string]any{"value": "b@example.org", "type": "work"}}}))
		h.create(t, newUser("c", map[string]any{"title": "z", "name": map[string]any{"familyName": "Other"}, "emails": []any{map[string]any{"value": "c@example.com", "type": "home"}}}))
		h.create(t, newUser("testUser+test", nil))
		h.create(t, newUser("numbered", map[string]any{"externalId": "00123", "title": "1.5e3"}))
		cases := []struct{ filter, want string }{
			{`title eq "x" or title eq "y" and userName eq "a"`, "a"},
			{`(title eq "x" or title eq "y") and userName eq "b"`, "b"},
			{`name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`, "a,b"},
			{`emails[type eq "work" and value co "@example.com"]`, "a"},
			{`emails[type eq "work"].value eq "B@EXAMPLE.ORG"`, "b"},
			{`emails co "example.com"`, "a,c"},
			{`userName eq "testUser+test"`, "testUser+test"},
			{`Username Eq "A"`, "a"},
			{`not (title pr)`, "testUser+test"},
			{`userName sw "O"`, ""},
			// Unquoted numbers compare as written, as unquoted words do: identifiers and employee
			// numbers are strings, and 00123 is not 123.
			{`externalId eq 00123`, "numbered"},
			{`externalId eq 123`, ""},
			{`externalId eq "00123" and title eq 1.5e3`, "numbered"},
			{`title ne 1500 and externalId sw 001`, "numbered"},
		}
		for _, c := range cases {
			r := h.do("GET", "/Users?sortBy=userName&filter="+url.QueryEscape(c.filter), nil).want(t, http.StatusOK)
			if got := names(r); got != c.want {
				t.Errorf("%s: got %q, want %q", c.filter, got, c.want)
			}
		}
		for _, bad := range []string{`active gt true`, `(((`, `userName regex "x"`, `nosuch eq "x"`, `active eq 1`, `meta.created gt 2026`} {
			h.do("GET", "/Users?filter="+url.QueryEscape(bad), nil).wantError(t, http.StatusBadRequest, "invalidFilter")
		}
	})
}

func TestPaginationSortingAndProjection(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		for _, n := range []string{"e", "c", "a", "d", "b"} {
			h.create(t, newUser(n, map[string]any{"name": map[string]any{"givenName": strings.ToUpper(n), "familyName": "F"}, "title": "T"}))
		}
		r := h.do("GET", "/Users?startIndex=2&count=2", nil).want(t, http.StatusOK)
		if get(r.body, "totalResults") != 5.0 || get(r.body, "itemsPerPage") != 2.0 || get(r.body, "startIndex") != 2.0 || names(r) != "c,a" {
			t.Fatalf("page 2 of 2: %s", r.raw)
		}
		r = h.do("GET", "/Users?startIndex=0&count=1", nil).want(t, http.StatusOK)
		if names(r) != "e" || get(r.body, "startIndex") != 1.0 {
			t.Fatalf("startIndex 0 means 1: %s", r.raw)
		}
		r = h.do("GET", "/Users?count=0", nil).want(t, http.StatusOK)
		if get(r.body, "totalResults") != 5.0 || len(r.body["Resources"].([]any)) != 0 {
			t.Fatalf("count 0 returns only totals: %s", r.raw)
		}
		r = h.do("GET", "/Users?sortBy=name.givenName&sortOrder=descending", nil).want(t, http.StatusOK)
		if names(r) != "e,d,c,b,a" {
			t.Fatalf("sorted descending: %s", names(r))
		}
		r = h.do("GET", "/Users?attributes=userName,name.givenName&count=1", nil).want(t, http.StatusOK)
		first := r.body["Resources"].([]any)[0].(map[string]any)
		if first["id"] == nil || first["userName"] == nil || first["title"] != nil || get(first, "name.familyName") != nil || get(first, "name.givenName") == nil {
			t.Fatalf("attributes=userName,name.givenName: %v", first)
		}
		r = h.do("GET", "/Users?excludedAttributes=title,name&count=1", nil).want(t, http.StatusOK)
		first = r.body["Resources"].([]any)[0].(map[string]any)
		if first["title"] != nil || first["name"] != nil || first["userName"] == nil || first["id"] == nil {
			t.Fatalf("excludedAttributes=title,name: %v", first)
		}
		r = h.do("POST", "/Users/.search", map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": `userName eq "c"`, "attributes": []string{"userName"}, "count": 10,
		}).want(t, http.StatusOK)
		if names(r) != "c" || get(r.body, "Resources.0.title") != nil {
			t.Fatalf("POST .search: %s", r.raw)
		}
	})
}

func TestETags(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("etag", nil))
		r := h.do("GET", "/Users/"+id, nil).want(t, http.StatusOK)
		tag := r.header.Get("ETag")
		if tag != `W/"1"` || get(r.body, "meta.version") != tag {
			t.Fatalf("ETag %q and meta.version %v must agree", tag, get(r.body, "meta.version"))
		}
		h.do("GET", "/Users/"+id, nil, "If-None-Match", tag).want(t, http.StatusNotModified)
		replace := patchOps(map[string]any{"op": "replace", "path": "title", "value": "v2"})
		h.do("PATCH", "/Users/"+id, replace, "If-Match", tag).want(t, http.StatusOK)
		h.do("PATCH", "/Users/"+id, replace, "If-Match", tag).wantError(t, http.StatusPreconditionFailed, "")
		h.do("PUT", "/Users/"+id, newUser("etag", nil), "If-Match", tag).wantError(t, http.StatusPreconditionFailed, "")
		h.do("DELETE", "/Users/"+id, nil, "If-Match", tag).wantError(t, http.StatusPreconditionFailed, "")
		h.do("GET", "/Users/"+id, nil, "If-None-Match", tag).want(t, http.StatusOK)

		r = h.do("PATCH", "/Users/"+id, replace).want(t, http.StatusOK)
		if get(r.body, "meta.version") != `W/"2"` {
			t.Fatalf("re-adding the same value must not change the version: %s", r.raw)
		}
		h.do("DELETE", "/Users/"+id, nil, "If-Match", `W/"2"`).want(t, http.StatusNoContent)
	})
}

func TestErrors(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		id := h.create(t, newUser("errors", map[string]any{"emails": []any{map[string]any{"value": "e@example.com", "type": "home"}}}))
		h.do("POST", "/Users", newUser("ERRORS", nil)).wantError(t, http.StatusConflict, "uniqueness")
		h.do("POST", "/Users", map[string]any{"schemas": []string{userSchema}, "name": map[string]any{"givenName": "x"}}).wantError(t, 400, "invalidValue")
		h.do("POST", "/Users", `{"acve": tre}`).wantError(t, 400, "invalidSyntax")
		h.do("POST", "/Users", newUser("x", map[string]any{"active": "maybe"})).wantError(t, 400, "invalidValue")
		h.do("POST", "/Users", newUser("xml", nil), "Content-Type", "application/xml").wantError(t, http.StatusUnsupportedMediaType, "")
		h.do("POST", "/Users", newUser(strings.Repeat("x", 2<<20), nil)).wantError(t, http.StatusRequestEntityTooLarge, "")
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "remove", "path": "userName"})).wantError(t, 400, "mutability")
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": "id", "value": "x"})).wantError(t, 400, "mutability")
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": "emails[type eq", "value": "x"})).wantError(t, 400, "invalidPath")
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "replace", "path": `emails[type eq "work"]`, "value": map[string]any{"value": "w@x"}})).wantError(t, 400, "noTarget")
		h.do("PATCH", "/Users/"+id, patchOps(map[string]any{"op": "frobnicate", "path": "title", "value": "x"})).wantError(t, 400, "invalidSyntax")
		h.do("PATCH", "/Users/"+id, map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}}).wantError(t, 400, "invalidValue")
		h.do("PUT", "/Users/does-not-exist", newUser("nobody", nil)).wantError(t, http.StatusNotFound, "")
		h.do("GET", "/Users/does-not-exist", nil).wantError(t, http.StatusNotFound, "")
		h.do("GET", "/Nothing", nil).wantError(t, http.StatusNotFound, "")
		h.do("DELETE", "/Users", nil).wantError(t, http.StatusMethodNotAllowed, "")
		h.do("POST", "/ServiceProviderConfig", map[string]any{}).wantError(t, http.StatusMethodNotAllowed, "")

		// An atomic PATCH: the second operation fails, so the first is not applied.
		h.do("PATCH", "/Users/"+id, patchOps(
			map[string]any{"op": "replace", "path": "title", "value": "changed"},
			map[string]any{"op": "remove", "path": "userName"})).wantError(t, 400, "mutability")
		if r := h.do("GET", "/Users/"+id, nil).want(t, 200); get(r.body, "title") != nil {
			t.Fatalf("a failed PATCH left a change behind: %s", r.raw)
		}
	})
}

func TestAuthentication(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		noToken := *h
		noToken.token = ""
		noToken.do("GET", "/Users", nil).wantError(t, http.StatusUnauthorized, "")
		wrong := *h
		wrong.token = "eio_scim_wrong"
		r := wrong.do("GET", "/ServiceProviderConfig", nil)
		r.wantError(t, http.StatusUnauthorized, "")
		if r.header.Get("WWW-Authenticate") == "" {
			t.Fatal("401 must carry WWW-Authenticate")
		}
		h.do("GET", "/Users", nil, "Authorization", "Bearer Bearer "+tokenA).want(t, http.StatusOK) // scheme pasted twice
		h.do("GET", "/Users", nil, "Authorization", "bearer "+tokenA).want(t, http.StatusOK)
		h.do("GET", "/Users", nil, "Authorization", "Basic "+tokenA).wantError(t, http.StatusUnauthorized, "")
		unknown := *h
		unknown.org = "no-such-org"
		u := unknown.do("GET", "/Users", nil)
		u.wantError(t, http.StatusUnauthorized, "")
		if u.raw != r.raw {
			t.Fatalf("an unknown organization must answer exactly like a wrong token:\n%s\n%s", u.raw, r.raw)
		}
	})
}

func TestDiscovery(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		r := h.do("GET", "/ServiceProviderConfig?filter=ignored", nil).want(t, 200)
		if get(r.body, "patch.supported") != true || get(r.body, "bulk.supported") != false || get(r.body, "filter.maxResults") != 1000.0 || get(r.body, "etag.supported") != true {
			t.Fatalf("ServiceProviderConfig: %s", r.raw)
		}
		r = h.do("GET", "/ResourceTypes", nil).want(t, 200)
		if get(r.body, "Resources.0.endpoint") != "/Users" || get(r.body, "Resources.0.schemaExtensions.0.schema") != "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User" {
			t.Fatalf("ResourceTypes: %s", r.raw)
		}
		h.do("GET", "/ResourceTypes/Group", nil).want(t, 200)
		h.do("GET", "/ResourceTypes/Nope", nil).wantError(t, 404, "")
		r = h.do("GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", nil).want(t, 200)
		if get(r.body, "attributes.0.name") != "userName" || get(r.body, "attributes.0.uniqueness") != "server" {
			t.Fatalf("User schema: %s", r.raw)
		}
	})
}

// An organization's token, ids, filters and group members never reach another organization.
func TestOrganizationIsolation(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		b := h.asB()
		idA := h.create(t, newUser("shared@example.com", nil))
		idB := b.create(t, newUser("shared@example.com", nil)) // the same userName is fine in another organization

		crossed := *h
		crossed.token = tokenB // B's token on A's URL
		crossed.do("GET", "/Users", nil).wantError(t, http.StatusUnauthorized, "")

		b.do("GET", "/Users/"+idA, nil).wantError(t, http.StatusNotFound, "")
		b.do("PATCH", "/Users/"+idA, patchOps(map[string]any{"op": "replace", "path": "active", "value": false})).wantError(t, http.StatusNotFound, "")
		b.do("DELETE", "/Users/"+idA, nil).wantError(t, http.StatusNotFound, "")
		r := b.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "shared@example.com"`), nil).want(t, 200)
		if get(r.body, "totalResults") != 1.0 || get(r.body, "Resources.0.id") != idB {
			t.Fatalf("B's filter must see only B's user: %s", r.raw)
		}
		g := b.do("POST", "/Groups", map[string]any{"displayName": "B team"}).want(t, 201).body["id"].(string)
		b.do("PATCH", "/Groups/"+g, patchOps(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": idA}}})).wantError(t, 400, "invalidValue")
		b.do("POST", "/Groups", map[string]any{"displayName": "B team 2", "members": []any{map[string]any{"value": idA}}}).wantError(t, 400, "invalidValue")
		if r := h.do("GET", "/Users/"+idA, nil).want(t, 200); r.body["groups"] != nil {
			t.Fatalf("A's user joined B's group: %s", r.raw)
		}
	})
}

// Large membership batches, as Entra and Okta send them.
func TestLargeMembershipBatches(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		var members []any
		for i := range 250 {
			id := h.create(t, newUser(fmt.Sprintf("member-%03d", i), nil))
			members = append(members, map[string]any{"value": id})
		}
		g := h.do("POST", "/Groups", map[string]any{"displayName": "Everyone"}).want(t, 201).body["id"].(string)
		h.do("PATCH", "/Groups/"+g, patchOps(map[string]any{"op": "Add", "path": "members", "value": members})).want(t, 204)
		h.do("PATCH", "/Groups/"+g, patchOps(map[string]any{"op": "Add", "path": "members", "value": members[:10]})).want(t, 204) // repeats are no-ops
		h.do("PATCH", "/Groups/"+g, patchOps(map[string]any{"op": "Remove", "path": "members", "value": members[:100]})).want(t, 204)
		r := h.do("GET", "/Groups/"+g, nil).want(t, 200)
		if n := len(r.body["members"].([]any)); n != 150 {
			t.Fatalf("want 150 members, got %d", n)
		}
		r = h.do("GET", "/Groups?filter="+url.QueryEscape(`members.value eq "`+members[200].(map[string]any)["value"].(string)+`"`)+"&excludedAttributes=members", nil).want(t, 200)
		if get(r.body, "totalResults") != 1.0 || get(r.body, "Resources.0.members") != nil {
			t.Fatalf("group by member: %s", r.raw)
		}
	})
}

// The Entra default job and the aadOptscim062020 job send different shapes for the same
// change; both must reach the same end state.
func TestEntraDefaultAndFlaggedFormsAgree(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		start := map[string]any{"active": true, "name": map[string]any{"givenName": "G", "familyName": "F"},
			"emails": []any{map[string]any{"type": "work", "value": "old@x.com", "primary": true}}}
		def := h.create(t, newUser("default@x.com", start))
		flag := h.create(t, newUser("flag@x.com", start))
		h.do("PATCH", "/Users/"+def, patchOps(
			map[string]any{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@x.com"},
			map[string]any{"op": "Replace", "path": "name.givenName", "value": "Kkom"},
			map[string]any{"op": "Replace", "path": "externalId", "value": "ext"},
			map[string]any{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "42"},
			map[string]any{"op": "Add", "path": "nickName", "value": "Babs"},
			map[string]any{"op": "Replace", "path": "active", "value": "False"},
		)).want(t, 200)
		h.do("PATCH", "/Users/"+flag, patchOps(
			map[string]any{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@x.com"},
			map[string]any{"op": "replace", "value": map[string]any{"name.givenName": "Kkom", "externalId": "ext",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42"}},
			map[string]any{"op": "add", "path": "nickName", "value": "Babs"},
			map[string]any{"op": "replace", "path": "active", "value": false},
		)).want(t, 200)
		a := h.do("GET", "/Users/"+def, nil).want(t, 200).body
		b := h.do("GET", "/Users/"+flag, nil).want(t, 200).body
		for _, m := range []map[string]any{a, b} {
			delete(m, "id")
			delete(m, "meta")
			delete(m, "userName")
		}
		if !equalJSON(a, b) {
			t.Fatalf("end states differ:\ndefault: %v\nflagged: %v", a, b)
		}
	})
}

// A list returns each user's groups (loaded with the users in one query), in group creation order,
// with current names; excludedAttributes=groups leaves them out.
func TestListedUsersCarryTheirGroups(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		refused := scim.FastRenderingRefused()
		defer func() {
			// Both stores' documents (SQLite's text, PostgreSQL's jsonb) take the fast path.
			if n := scim.FastRenderingRefused() - refused; n != 0 {
				t.Errorf("%d listed resources were left to render", n)
			}
		}()
		in := h.create(t, newUser("grouped@example.com", nil))
		out := h.create(t, newUser("alone@example.com", nil))
		first := h.do("POST", "/Groups", map[string]any{"displayName": "First", "members": []any{map[string]any{"value": in}}}).want(t, 201).body["id"].(string)
		second := h.do("POST", "/Groups", map[string]any{"displayName": "Second", "members": []any{map[string]any{"value": in}}}).want(t, 201).body["id"].(string)
		h.do("PATCH", "/Groups/"+first, patchOps(map[string]any{"op": "replace", "path": "displayName", "value": "First, renamed"})).want(t, 204)

		r := h.do("GET", "/Users?filter="+url.QueryEscape(`userName sw "`+"grouped"+`"`), nil).want(t, 200)
		got := get(r.body, "Resources.0.groups")
		want := []any{
			map[string]any{"value": first, "display": "First, renamed", "type": "Group", "$ref": get(r.body, "Resources.0.groups.0.$ref")},
			map[string]any{"value": second, "display": "Second", "type": "Group", "$ref": get(r.body, "Resources.0.groups.1.$ref")},
		}
		if !equalJSON(got, want) {
			t.Fatalf("groups of a listed user: %s", r.raw)
		}
		r = h.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "alone@example.com"`), nil).want(t, 200)
		if get(r.body, "Resources.0.id") != out || get(r.body, "Resources.0.groups") != nil {
			t.Fatalf("a user in no group lists none: %s", r.raw)
		}
		r = h.do("GET", "/Users?excludedAttributes=groups&filter="+url.QueryEscape(`userName eq "grouped@example.com"`), nil).want(t, 200)
		if get(r.body, "Resources.0.groups") != nil {
			t.Fatalf("excludedAttributes=groups: %s", r.raw)
		}
	})
}

// A user's groups are filtered as they are rendered: display is the group's name and type
// "Group". The membership row holds the member's own display and type, which the filter read:
// groups[display eq "Engineering"] matched users named Engineering.
func TestUsersFilteredByTheirGroups(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		inGroup := h.create(t, newUser("in-group", map[string]any{"displayName": "Ada"}))
		h.create(t, newUser("named-like-it", map[string]any{"displayName": "Engineering"}))
		h.do("POST", "/Groups", map[string]any{"displayName": "Engineering", "members": []any{map[string]any{"value": inGroup}}}).
			want(t, http.StatusCreated)
		for filter, want := range map[string]string{
			`groups[display eq "Engineering"]`:             "in-group",
			`groups.display eq "engineering"`:              "in-group",
			`groups[type eq "Group" and display sw "Eng"]`: "in-group",
			`groups.type eq "User"`:                        "",
			`not (groups.type eq "Group")`:                 "named-like-it",
		} {
			r := h.do("GET", "/Users?sortBy=userName&filter="+url.QueryEscape(filter), nil).want(t, http.StatusOK)
			if got := names(r); got != want {
				t.Errorf("%s: got %q, want %q", filter, got, want)
			}
		}
	})
}
