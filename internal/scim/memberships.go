package scim

import (
	"context"
	"net/http"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// DefaultMaxMembersPerResponse bounds the group members one response carries (Server's
// MaxMembersPerResponse). Group sizes are not limited, only what one request names (limits.go):
// a group grown by PATCH to a million members would otherwise be read whole, into memory, by
// every GET of it, and a page of a thousand such groups by one list. 50,000 members are about
// 5 MB of JSON; Entra ID reads groups with excludedAttributes=members, and Okta's whole-list
// pushes stop at about 13,000 (the 1 MiB body).
const DefaultMaxMembersPerResponse = 50000

// membershipsPerReadCost is how many memberships a read renders for one more request's cost: a
// group read with 50,000 members costs what 51 small requests do, the reads identity providers
// send (a user in a few groups, a group without its members) cost 1.
const membershipsPerReadCost = 1000

func (s *Server) maxMembersPerResponse() int {
	if s.MaxMembersPerResponse > 0 {
		return s.MaxMembersPerResponse
	}
	return DefaultMaxMembersPerResponse
}

// loadedMemberships are the memberships to render with some resources: a group's members, a
// user's groups.
type loadedMemberships struct {
	byID  map[string][]store.Member // by resource id; nil when not rendered
	fit   int                       // resources, from the first, whose memberships are all in byID
	count int                       // memberships in byID
}

// membershipsOf loads the memberships of list that proj returns (or takes the users' groups
// already loaded with them: groupsLoaded). Groups' members are read up to the server's
// per-response limit: fit < len(list) when the groups after the fit-th would pass it.
func (h *resourceHandler) membershipsOf(ctx context.Context, org string, list []*store.Resource, proj projection,
	groupsLoaded bool) (loadedMemberships, error) {
	loaded := loadedMemberships{fit: len(list)}
	switch {
	case groupsLoaded:
		loaded.byID = make(map[string][]store.Member, len(list))
		for _, res := range list {
			loaded.byID[res.ID] = res.Groups
		}
	case len(list) == 0 || !proj.wants(h.membershipKey()):
		return loaded, nil
	default:
		ids := make([]string, len(list))
		for i, res := range list {
			ids[i] = res.ID
		}
		var err error
		if h.kind == store.KindGroup {
			loaded.byID, loaded.fit, err = h.server.Store.Members(ctx, org, ids, h.server.maxMembersPerResponse())
		} else {
			loaded.byID, err = h.server.Store.GroupsOf(ctx, org, ids)
		}
		if err != nil {
			return loadedMemberships{}, err
		}
	}
	for _, m := range loaded.byID {
		loaded.count += len(m)
	}
	return loaded, nil
}

// tooManyMembers answers a read of a group with more members than one response carries.
func (h *resourceHandler) tooManyMembers(res *store.Resource) *Error {
	return tooMany("group %s has more than %d members, more than one response carries: read it with excludedAttributes=members",
		res.ID, h.server.maxMembersPerResponse())
}

// chargeRead charges a read for the memberships it renders (membershipsPerReadCost), as
// chargeMembers charges a write for the members it names; over the organization's limit it
// answers 429 and returns false.
func (s *Server) chargeRead(w http.ResponseWriter, r *http.Request, caller *tenant.Caller, memberships int) bool {
	cost := memberships / membershipsPerReadCost
	if rl := caller.Organization.RateLimit; !rl.Unlimited() {
		cost = min(cost, max(rl.Burst, 1)-requestCost(r))
	}
	return s.charge(w, r, caller, cost)
}
