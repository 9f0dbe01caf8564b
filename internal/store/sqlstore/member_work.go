package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Member work ("member-deleted" in group_backlog, keyed by the member's id): the memberships of
// groups of a user, or a nested group, deleted while a member of more than
// provisioning.MembersPerTransaction of them, ended by the group worker a part at a time
// (Delete's leaveGroups records it; memberIsThere hides them until then).

// memberPart ends the next of a deleted member's memberships of groups, with a user's events, and
// says whether more may be left. One statement deletes them as an index read finds them, in no
// order: in group order it would sort all of them each part, and deleting by group id after the
// read would let PostgreSQL walk every membership the member has left, for each part. Unlike the
// deletion of a member of few groups, it also ends a user's memberships of deleted groups still
// waiting for their own work (with the names their deletion left): each membership still ends
// once, with one event, and a part stays one bounded read however many of those there are.
func (s *Store) memberPart(ctx context.Context, tx *sql.Tx, p provisioningTx, work store.GroupWork, origin provisioning.Origin) (bool, error) {
	limit := provisioning.MembersPerTransaction
	var ended int
	var ofUser []string
	err := eachRowIn(ctx, tx, s.q(memberPartQuery(s.d)), []any{work.Org, work.GroupID, limit}, func(scan func(...any) error) error {
		var g, memberType string
		if err := scan(&g, &memberType); err != nil {
			return err
		}
		if ended++; memberType == string(store.KindUser) {
			ofUser = append(ofUser, g)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("ending memberships of deleted member %s: %w", work.GroupID, err)
	}
	slices.Sort(ofUser) // events in group order within a part, whatever order the rows came in
	deleted, err := s.deletedGroupsNames(ctx, tx, work.Org, ofUser)
	if err != nil {
		return false, err
	}
	return ended == limit, provisioning.LeftGroups(ctx, p, work.Org, work.GroupID, ofUser, deleted, origin)
}

// deletedGroupsNames are the names of those of groups deleted with their memberships still
// waiting for the group worker, as their deletion left them.
func (s *Store) deletedGroupsNames(ctx context.Context, tx *sql.Tx, org string, groups []string) (map[string]provisioning.Group, error) {
	if len(groups) == 0 {
		return nil, nil
	}
	names := map[string]provisioning.Group{}
	err := eachRowIn(ctx, tx, s.q(`SELECT group_id, name, external_id FROM group_backlog WHERE org = ? AND kind = ? AND group_id IN (`+
		inList(len(groups))+`)`), append([]any{org, store.GroupDeleted}, stringsToAny(groups)...), func(scan func(...any) error) error {
		var id string
		var g provisioning.Group
		if err := scan(&id, &g.DisplayName, &g.ExternalID); err != nil {
			return err
		}
		names[id] = g
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the names of deleted groups: %w", err)
	}
	return names, nil
}

// memberPartQuery deletes a part of a deleted member's memberships, by their row addresses as
// deleteInParts deletes (organization_deletion.go).
func memberPartQuery(d dialect) string {
	return deletePartQuery(d, "scim_group_members", "org = ? AND member_id = ?", "group_id, member_type")
}
