package provisioning

import (
	"context"
	"fmt"
	"slices"
)

// GroupWrite is a SCIM write to a group, as the store performed it.
type GroupWrite struct {
	Org, GroupID string
	// Before is the group before the write (nil: created), After after it (nil: deleted).
	Before, After *Group
	// Added and Removed are the members whose membership the write changed.
	Added, Removed []string
	Origin         Origin
}

// GroupWritten records a group write's events and, under group role mappings, recomputes the roles
// of everyone whose groups changed (members added or removed, or all of them when the group was
// renamed).
func GroupWritten(ctx context.Context, tx Tx, p Policy, w GroupWrite) error {
	var events []Event
	names := w.After
	switch {
	case w.Before == nil:
		events = append(events, Event{Type: GroupCreated, Subject: w.GroupID, GroupNames: names})
	case w.After == nil:
		names = w.Before
		events = append(events, Event{Type: GroupDeleted, Subject: w.GroupID, GroupNames: names})
	default:
		events = append(events, Event{Type: GroupUpdated, Subject: w.GroupID, GroupNames: names})
	}
	added, removed := w.Added, w.Removed
	if len(added)+len(removed) > MembersPerTransaction && w.After != nil {
		// Their events and roles follow from the group worker, a transaction of them at a time.
		if err := tx.DeferMemberships(ctx, w.Org, w.GroupID, *w.After, added, removed, w.Origin); err != nil {
			return err
		}
		added, removed = nil, nil
	} else if w.Before != nil && len(added)+len(removed) > 0 {
		// Announced here: a large change's waiting announcement of them would tell it twice (a
		// new group has none).
		if err := tx.ForgetDeferredMemberships(ctx, w.Org, w.GroupID, append(slices.Clone(added), removed...)); err != nil {
			return err
		}
	}
	events = append(events, membershipEvents(w.GroupID, names, added, removed)...)
	if len(p.GroupRoles) > 0 && !p.DryRun {
		// The members a write adds or removes are looked at again, whatever the group: a role a
		// mapping since removed gave must go when its group is left. A rename looks at every
		// member only when it changes which mappings name the group; other renames change no role,
		// and reading a large group's members for each would cost what its growth cost, each time.
		affected := append(slices.Clone(added), removed...)
		if w.Before != nil && w.After != nil && !slices.Equal(mappingsNaming(p, w.Before), mappingsNaming(p, w.After)) {
			members, err := tx.GroupMembers(ctx, w.Org, w.GroupID, "", MembersPerTransaction+1)
			if err != nil {
				return err
			}
			if len(members) > MembersPerTransaction {
				// A large group's members are reviewed later, a transaction of them at a time.
				if err := tx.DeferRoleReview(ctx, w.Org, w.GroupID, *w.After, w.Origin); err != nil {
					return err
				}
				members = nil
			}
			affected = append(affected, members...)
		}
		changed, err := refreshRoles(ctx, tx, p, w.Org, affected)
		if err != nil {
			return err
		}
		events = append(events, changed...)
	}
	return tx.Append(ctx, w.Org, w.Origin, events)
}

// MembersPerTransaction bounds the members whose memberships a group's deletion ends, or whose
// roles its rename reviews, and the groups whose memberships a member's deletion ends, in one
// transaction: a write of a larger group, or of a member of more groups, leaves them to the
// group worker (store.GroupWork), which does them this many at a time. On SQLite a transaction
// holds the one writer every organization shares. A variable for tests.
var MembersPerTransaction = 500

// MembershipsEnded records that a deleted group's memberships of members ended, with their events
// (names: the group's names when it was deleted), and reviews the members' roles.
func MembershipsEnded(ctx context.Context, tx Tx, p Policy, org, groupID string, names Group, members []string, origin Origin) error {
	return MembershipsAnnounced(ctx, tx, p, org, groupID, names, nil, members, origin)
}

// LeftGroups records that a deleted user's memberships of groups ended, with their events, as
// its deletion records them (UserWrite.LeftGroups) when it was a member of few groups; deleted
// groups' names come from deleted (their events name the groups as they were, not as they are).
// Deleting a user changes no role.
func LeftGroups(ctx context.Context, tx Tx, org, userID string, groups []string, deleted map[string]Group, origin Origin) error {
	return tx.Append(ctx, org, origin, leftGroupEvents(nil, userID, groups, deleted))
}

// leftGroupEvents appends to events a deleted user's membership.removed events.
func leftGroupEvents(events []Event, userID string, groups []string, deleted map[string]Group) []Event {
	for _, g := range groups {
		e := Event{Type: MembershipRemoved, Subject: userID, Group: g}
		if names, ok := deleted[g]; ok {
			e.GroupNames = &names
		}
		events = append(events, e)
	}
	return events
}

// membershipEvents are the events of a group's memberships added and removed.
func membershipEvents(groupID string, names *Group, added, removed []string) []Event {
	events := make([]Event, 0, len(added)+len(removed))
	for _, id := range added {
		events = append(events, Event{Type: MembershipAdded, Subject: id, Group: groupID, GroupNames: names})
	}
	for _, id := range removed {
		events = append(events, Event{Type: MembershipRemoved, Subject: id, Group: groupID, GroupNames: names})
	}
	return events
}

// MembershipsAnnounced records the events of memberships a large member change of a group added
// and removed, when the group worker reaches them (names: the group's now, or as it was deleted),
// and reviews the members' roles.
func MembershipsAnnounced(ctx context.Context, tx Tx, p Policy, org, groupID string, names Group, added, removed []string, origin Origin) error {
	events := membershipEvents(groupID, &names, added, removed)
	if len(p.GroupRoles) > 0 && !p.DryRun {
		changed, err := refreshRoles(ctx, tx, p, org, append(slices.Clone(added), removed...))
		if err != nil {
			return err
		}
		events = append(events, changed...)
	}
	return tx.Append(ctx, org, origin, events)
}

// RolesReviewed reviews members' roles: a renamed group's, when the rename was deferred.
func RolesReviewed(ctx context.Context, tx Tx, p Policy, org string, members []string, origin Origin) error {
	if len(p.GroupRoles) == 0 || p.DryRun {
		return nil
	}
	changed, err := refreshRoles(ctx, tx, p, org, members)
	if err != nil {
		return err
	}
	return tx.Append(ctx, org, origin, changed)
}

// refreshRoles recomputes the role of each member from its groups and stores changes; ids that
// are not members (groups, unknown) are skipped. Members are visited in id order, so two writers
// lock them in the same order.
func refreshRoles(ctx context.Context, tx Tx, p Policy, org string, ids []string) ([]Event, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var events []Event
	for _, id := range ids {
		m, err := tx.LoadMember(ctx, org, id)
		if err != nil {
			return nil, err
		}
		if m == nil || m.Deleted {
			// Not a member, or one whose user is gone (a deleted group's memberships it had may
			// end after it, from the group worker): deleting a user changes no role.
			continue
		}
		role, err := roleOf(ctx, tx, p, org, id)
		if err != nil {
			return nil, err
		}
		if role == m.Role {
			continue
		}
		previous := m.Role
		m.Role = role
		if err := tx.SaveMember(ctx, org, id, "", *m); err != nil {
			return nil, err
		}
		events = append(events, Event{Type: MemberRoleChanged, Subject: id, Role: role, PreviousRole: previous,
			Detail: fmt.Sprintf("Role %q → %q from group membership", previous, role)})
	}
	return events, nil
}

// GroupsReadForRole bounds the groups of a member read to find its role: a member in more is
// given its role by asking, mapping by mapping, whether one of its groups is the one the
// mapping names (at most 100 mappings, each an indexed lookup), so that a member in a million
// groups costs no more than one in a hundred: about 200 index reads when each externalId names
// one group, at most about 1,200 (GroupsSharingAnExternalID), and a part of the group worker's
// 500 members 500 times that. A variable for tests.
var GroupsReadForRole = 100

// GroupsSharingAnExternalID bounds the groups InGroupNamed asks about by one externalId. Group
// names are unique in an organization, externalIds are not (RFC 7643 leaves them to the client),
// and identity providers give each group its own; a tenant making a hundred thousand groups of
// one externalId would make each of its members' roles that many index reads. Past the bound a
// mapping by that externalId names only that many of them (on SQLite the first created), for
// members in more than GroupsReadForRole groups (the others' groups are all read). A variable
// for tests.
var GroupsSharingAnExternalID = 10

// roleOf is a member's role from its groups (RoleFor), reading a bounded number of them.
func roleOf(ctx context.Context, tx Tx, p Policy, org, id string) (string, error) {
	if len(p.GroupRoles) == 0 {
		return p.DefaultRole, nil
	}
	groups, err := tx.GroupsOf(ctx, org, id, GroupsReadForRole+1)
	if err != nil {
		return "", err
	}
	if len(groups) <= GroupsReadForRole {
		return RoleFor(p, groups), nil
	}
	for _, m := range p.GroupRoles {
		in, err := tx.InGroupNamed(ctx, org, id, m.Group)
		if err != nil || in {
			return m.Role, err
		}
	}
	return p.DefaultRole, nil
}

// mappingsNaming is the positions of the group role mappings that name g (RoleFor's match), in
// order; none for a nil group.
func mappingsNaming(p Policy, g *Group) []int {
	if g == nil {
		return nil
	}
	var out []int
	for i, m := range p.GroupRoles {
		if m.names(*g) {
			out = append(out, i)
		}
	}
	return out
}
