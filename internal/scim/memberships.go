package scim

import (
	"context"
	"slices"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// DefaultMaxMembersPerResponse bounds the group members one response carries (Server's
// MaxMembersPerResponse). Group sizes are not limited, only what one request names (limits.go):
// a group grown by PATCH to a million members would otherwise be read whole, into memory, by
// every GET of it, and a page of a thousand such groups by one list. 50,000 members are about
// 5 MB of JSON; Entra ID reads groups with excludedAttributes=members, and Okta's whole-list
// pushes stop at about 13,000 (the 1 MiB body). It is what the store reads at most.
const DefaultMaxMembersPerResponse = store.MaxMembershipsRead

// membershipsPerReadCost is how many memberships a read renders for one more request's cost: a
// group read with 50,000 members costs what 51 small requests do, the reads identity providers
// send (a user in a few groups, a group without its members) cost 1.
const membershipsPerReadCost = 1000

// maxMembersPerResponse is at most what the store reads (store.MaxMembershipsRead).
func (s *Server) maxMembersPerResponse() int {
	if s.MaxMembersPerResponse > 0 {
		return min(s.MaxMembersPerResponse, store.MaxMembershipsRead)
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

// membershipsOf loads the memberships of list that proj returns, or takes the users' groups the
// store loaded with them (groupsLoaded, when each has them). They are read up to the server's
// per-response limit: fit < len(list) when the resources after the fit-th would pass it.
func (h *resourceHandler) membershipsOf(ctx context.Context, org string, list []*store.Resource, proj projection,
	groupsLoaded bool) (loadedMemberships, error) {
	limit := h.server.maxMembersPerResponse()
	loaded := loadedMemberships{fit: len(list)}
	switch {
	case len(list) == 0 || !proj.wants(h.membershipKey()):
		return loaded, nil
	case groupsLoaded && !slices.ContainsFunc(list, func(r *store.Resource) bool { return !r.GroupsLoaded }):
		loaded.byID = make(map[string][]store.Member, len(list))
		for i, res := range list {
			if loaded.count+len(res.Groups) > limit {
				loaded.fit = i
				break
			}
			loaded.byID[res.ID] = res.Groups
			loaded.count += len(res.Groups)
		}
		return loaded, nil
	}
	ids := make([]string, len(list))
	for i, res := range list {
		ids[i] = res.ID
	}
	read := h.server.Store.GroupsOf
	if h.kind == store.KindGroup {
		read = h.server.Store.Members
	}
	var err error
	if loaded.byID, loaded.fit, err = read(ctx, org, ids, limit); err != nil {
		return loadedMemberships{}, err
	}
	for _, m := range loaded.byID {
		loaded.count += len(m)
	}
	return loaded, nil
}

// tooManyMembers answers a read of a group with more members, or a user in more groups, than
// one response carries.
func (h *resourceHandler) tooManyMembers(res *store.Resource) *Error {
	if h.kind == store.KindUser {
		return tooMany("user %s is in more than %d groups, more than one response carries: read it with excludedAttributes=groups",
			res.ID, h.server.maxMembersPerResponse())
	}
	return tooMany("group %s has more than %d members, more than one response carries: read it with excludedAttributes=members",
		res.ID, h.server.maxMembersPerResponse())
}

// chargeRead charges a read, once it is made, for the memberships it renders
// (membershipsPerReadCost): the organization's bucket goes into debt, so the requests after it wait
// (limiters.owe).
func (s *Server) chargeRead(caller *tenant.Caller, memberships int) {
	s.limits.owe(caller.Organization, memberships/membershipsPerReadCost)
}

// documentsPerReadCost is how many bytes of stored documents a page sends cost one more request,
// owed like memberships: a page of a hundred users of a few KiB each costs nothing more, one of
// store.MaxPageBytes 32 requests, so an organization reading pages of the largest documents at its
// rate cannot have the server render hundreds of MiB a second.
const documentsPerReadCost = 256 << 10

// chargePage charges a list read, once made, for the bytes of documents the store read for it
// (those it sends, and on PostgreSQL those read past the page's bound).
func (s *Server) chargePage(caller *tenant.Caller, page *store.Page) {
	n := page.DocumentBytes
	if n == 0 { // a store that does not count them
		for _, r := range page.Resources {
			n += len(r.Doc)
		}
	}
	if n >= documentsPerReadCost {
		s.limits.owe(caller.Organization, n/documentsPerReadCost)
	}
}
