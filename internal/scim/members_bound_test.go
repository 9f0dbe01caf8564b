package scim_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// A response carries at most the server's limit of group members: a group grown past it is
// refused whole (400, tooMany) unless read without its members, and a page of groups stops
// before the group that would pass it, so one organization's huge groups are never read into
// memory whole. Group sizes themselves are not limited.
func TestGroupReadsCarryBoundedMembers(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.scim.MaxMembersPerResponse = 5
		ids := h.storeUsers(t, 9)
		newGroup := func(name string, members []string) string {
			t.Helper()
			return h.do("POST", "/Groups", map[string]any{"displayName": name, "members": memberValues(members)}).
				want(t, http.StatusCreated).body["id"].(string)
		}
		small := newGroup("small", ids[:2])
		big := newGroup("big", ids[:6]) // its create answers without its members: the write is done
		mid := newGroup("mid", ids[6:9])

		members := func(r response) int {
			t.Helper()
			list, _ := r.body["members"].([]any)
			return len(list)
		}
		if n := members(h.do("GET", "/Groups/"+small, nil).want(t, http.StatusOK)); n != 2 {
			t.Fatalf("a small group read with %d members, want 2", n)
		}
		refused := h.do("GET", "/Groups/"+big, nil)
		refused.wantError(t, http.StatusBadRequest, "tooMany")
		if !strings.Contains(refused.raw, "excludedAttributes=members") {
			t.Fatalf("the refusal says nothing of how to read the group: %s", refused.raw)
		}
		if r := h.do("GET", "/Groups/"+big+"?excludedAttributes=members", nil).want(t, http.StatusOK); r.body["displayName"] != "big" || members(r) != 0 {
			t.Fatalf("read without its members: %s", r.raw)
		}

		page := func(query string) (total, items float64, names []string) {
			t.Helper()
			r := h.do("GET", "/Groups"+query, nil).want(t, http.StatusOK)
			resources, _ := r.body["Resources"].([]any)
			for _, x := range resources {
				names = append(names, x.(map[string]any)["displayName"].(string))
			}
			if float64(len(resources)) != r.body["itemsPerPage"].(float64) {
				t.Fatalf("itemsPerPage %v for %d resources", r.body["itemsPerPage"], len(resources))
			}
			return r.body["totalResults"].(float64), r.body["itemsPerPage"].(float64), names
		}
		// small (2) fits, big (6) would pass 5: the page is cut, the total still counts all three.
		if total, items, names := page("?count=10"); total != 3 || items != 1 || names[0] != "small" {
			t.Fatalf("first page: total %v, %v items %v", total, items, names)
		}
		h.do("GET", "/Groups?startIndex=2&count=10", nil).wantError(t, http.StatusBadRequest, "tooMany")
		if _, _, names := page("?startIndex=3&count=10"); len(names) != 1 || names[0] != "mid" {
			t.Fatalf("page after the big group: %v", names)
		}
		if _, items, _ := page("?count=10&excludedAttributes=members"); items != 3 {
			t.Fatalf("without members every group fits: %v", items)
		}
		// A write over the limit still answers with the group, its members left out.
		r := h.do("PUT", "/Groups/"+big, map[string]any{"displayName": "big", "members": memberValues(ids[:7])}).want(t, http.StatusOK)
		if r.body["id"] != big || members(r) != 0 {
			t.Fatalf("PUT of a group over the limit answered %s", r.raw)
		}
		if n := members(h.do("GET", "/Groups/"+mid, nil).want(t, http.StatusOK)); n != 3 {
			t.Fatalf("mid read with %d members", n)
		}
	})
}

// A read is charged for the memberships it renders, one request's cost per thousand, so reading
// large groups over and over costs an organization its own rate limit.
func TestLargeGroupReadsAreCharged(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		ids := h.storeUsers(t, 3000)
		group := h.do("POST", "/Groups", map[string]any{"displayName": "everyone", "members": memberValues(ids)}).
			want(t, http.StatusCreated).body["id"].(string)
		h.reg.Set(&tenant.Organization{
			Name: h.orgA, Binding: bindingOf(h.orgA), Enabled: true, Integration: types.NamespacedName{Namespace: "ns", Name: h.orgA},
			Credentials: []tenant.Credential{credential(tokenA)}, Policy: provisioning.DefaultPolicy,
			RateLimit: tenant.RateLimit{RequestsPerSecond: 0.001, Burst: 10},
		})
		// Each read costs 1 before, and 3 for its 3,000 members after (in debt if need be): a burst
		// of 10 takes three, and the fourth waits.
		for i := range 3 {
			if r := h.do("GET", "/Groups/"+group, nil).want(t, http.StatusOK); len(r.body["members"].([]any)) != 3000 {
				t.Fatalf("read %d: %d members", i, len(r.body["members"].([]any)))
			}
		}
		h.do("GET", "/Groups/"+group, nil).wantError(t, http.StatusTooManyRequests, "")
		h.do("GET", "/Groups/"+group+"?excludedAttributes=members", nil).wantError(t, http.StatusTooManyRequests, "")
	})
}

// A user's groups are bounded the same way: a user in more groups than a response carries is
// read with excludedAttributes=groups, a page of users stops before it, and a write's answer
// leaves its groups out.
func TestUserReadsCarryBoundedGroups(t *testing.T) {
	eachStore(t, func(t *testing.T, h *harness) {
		h.scim.MaxMembersPerResponse = 5
		var ids []string // in creation order: the first in 6 groups, the second in 2, the third in none
		for i := range 3 {
			ids = append(ids, h.create(t, map[string]any{"userName": fmt.Sprintf("member-%05d@example.com", i)}))
		}
		for i := range 6 {
			members := ids[:1]
			if i < 2 {
				members = ids[:2]
			}
			h.do("POST", "/Groups", map[string]any{"displayName": "g" + string(rune('a'+i)), "members": memberValues(members)}).
				want(t, http.StatusCreated)
		}
		groups := func(r response) int {
			t.Helper()
			list, _ := r.body["groups"].([]any)
			return len(list)
		}
		if n := groups(h.do("GET", "/Users/"+ids[1], nil).want(t, http.StatusOK)); n != 2 {
			t.Fatalf("a user in two groups read with %d", n)
		}
		refused := h.do("GET", "/Users/"+ids[0], nil)
		refused.wantError(t, http.StatusBadRequest, "tooMany")
		if !strings.Contains(refused.raw, "excludedAttributes=groups") {
			t.Fatalf("the refusal says nothing of how to read the user: %s", refused.raw)
		}
		h.do("GET", `/Users?filter=userName+eq+"member-00000@example.com"`, nil).wantError(t, http.StatusBadRequest, "tooMany")
		if r := h.do("GET", "/Users/"+ids[0]+"?excludedAttributes=groups", nil).want(t, http.StatusOK); groups(r) != 0 {
			t.Fatalf("read without groups: %s", r.raw)
		}
		h.do("GET", "/Users?count=10", nil).wantError(t, http.StatusBadRequest, "tooMany") // the first user is over alone
		r := h.do("GET", "/Users?count=10&startIndex=2", nil).want(t, http.StatusOK)
		if r.body["itemsPerPage"].(float64) != 2 || r.body["totalResults"].(float64) != 3 {
			t.Fatalf("the page after the user in many groups: %s", r.raw)
		}
		// A write's answer leaves the groups out rather than fail a write that was made.
		r = h.do("PATCH", "/Users/"+ids[0], patchOps(map[string]any{"op": "replace", "path": "active", "value": false})).want(t, http.StatusOK)
		if r.body["active"] != false || groups(r) != 0 {
			t.Fatalf("PATCH of a user in many groups answered %s", r.raw)
		}
	})
}
