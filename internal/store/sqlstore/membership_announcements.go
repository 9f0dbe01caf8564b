package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Membership announcements ("members" in group_backlog, the memberships in membership_backlog,
// migration 0018/0021): a write adding or removing more than provisioning.MembersPerTransaction
// members of a group changes their rows in its transaction (they are read at once) and leaves
// their events and roles to the group worker, a part at a time. 20,000 members added to a
// mapped group held SQLite's one writer for 4.4 s in one transaction; the write now holds it
// for 0.35 s.

// deferMemberships records the memberships a write of a group added and removed for the group
// worker to announce (membership_backlog, "members" work). A member whose opposite change still
// waits keeps that record: the worker announces it only if still true, and here it is not (the
// two changes cancel; neither is announced, nor the member's role, which neither changed,
// reviewed). The work keeps its age and takes the latest write's names.
func (s *Store) deferMemberships(ctx context.Context, tx *sql.Tx, org, groupID string, names provisioning.Group, added, removed []string,
	origin provisioning.Origin) error {
	for _, change := range []struct {
		ids   []string
		added int
	}{{added, 1}, {removed, 0}} {
		for _, chunk := range chunks(change.ids) {
			args := make([]any, 0, 4*len(chunk))
			for _, id := range chunk {
				args = append(args, org, groupID, id, change.added)
			}
			if _, err := s.exec(ctx, tx, s.q(`INSERT INTO membership_backlog (org, group_id, member_id, added) VALUES `+
				strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", len(chunk)), ", ")+
				` ON CONFLICT (org, group_id, member_id) DO NOTHING`), args...); err != nil {
				return fmt.Errorf("recording the memberships of group %s for later: %w", groupID, err)
			}
		}
	}
	return s.deferGroupWork(ctx, tx, org, groupID, store.GroupMembersToAnnounce, names, origin)
}

// announcePart announces the next memberships a large member change of a group left, in member
// order (the backlog's key): membership.added for one still there, membership.removed for one
// still gone (a write since, which announced its own change, makes the other moot), and reviews
// their roles. It says whether more may be left.
func (s *Store) announcePart(ctx context.Context, tx *sql.Tx, p provisioningTx, work store.GroupWork, policy provisioning.Policy,
	names provisioning.Group, origin provisioning.Origin) (bool, error) {
	limit := provisioning.MembersPerTransaction
	changes := map[string]bool{}
	var ids []string
	err := eachRowIn(ctx, tx, s.q(`SELECT member_id, added FROM membership_backlog WHERE org = ? AND group_id = ? ORDER BY member_id LIMIT ?`),
		[]any{work.Org, work.GroupID, limit}, func(scan func(...any) error) error {
			var id string
			var added int
			if err := scan(&id, &added); err != nil {
				return err
			}
			ids, changes[id] = append(ids, id), added == 1
			return nil
		})
	if err != nil || len(ids) == 0 {
		return false, err
	}
	// As every read sees them: a deleted group's or member's memberships waiting for their own
	// work are gone (that work announces their end).
	present, err := s.column(ctx, tx, `SELECT m.member_id FROM scim_group_members m WHERE m.org = ? AND m.group_id = ? AND m.member_id IN (`+
		inList(len(ids))+`)`+groupIsThere+memberIsThere, append([]any{work.Org, work.GroupID}, stringsToAny(ids)...)...)
	if err != nil {
		return false, fmt.Errorf("reading members of group %s: %w", work.GroupID, err)
	}
	there := map[string]bool{}
	for _, id := range present {
		there[id] = true
	}
	var added, removed []string
	for _, id := range ids {
		switch {
		case changes[id] && there[id]:
			added = append(added, id)
		case !changes[id] && !there[id]:
			removed = append(removed, id)
		}
	}
	if _, err := s.exec(ctx, tx, s.q(`DELETE FROM membership_backlog WHERE org = ? AND group_id = ? AND member_id <= ?`),
		work.Org, work.GroupID, ids[len(ids)-1]); err != nil {
		return false, fmt.Errorf("ending the record of group %s's memberships: %w", work.GroupID, err)
	}
	// The group's names now, as the member snapshots in the events have them (held: a rename
	// waits, not to come before these events with an older name); the names the group's deletion
	// left when it is gone.
	var current provisioning.Group
	switch err := s.queryRow(ctx, tx, s.q(`SELECT name, COALESCE(external_id, '') FROM scim_groups WHERE org = ? AND id = ?`+s.d.forUpdate()),
		work.Org, work.GroupID).Scan(&current.DisplayName, &current.ExternalID); {
	case err == nil:
		names = current
	case !errors.Is(err, sql.ErrNoRows):
		return false, fmt.Errorf("reading group %s: %w", work.GroupID, err)
	}
	return len(ids) == limit, provisioning.MembershipsAnnounced(ctx, p, policy, work.Org, work.GroupID, names, added, removed, origin)
}

// ForgetDeferredMemberships drops what a large member change of a group left to announce of
// members a later write of the group changed again: that write announced its own change, and
// announcing the earlier one after it would tell the change twice (added, removed, added again).
// A probe of the backlog's key, held with the write's other statements on PostgreSQL.
func (p provisioningTx) ForgetDeferredMemberships(ctx context.Context, org, groupID string, members []string) error {
	for _, chunk := range chunks(members) {
		err := p.write(ctx, heldWrite{table: "membership_backlog",
			query: `DELETE FROM membership_backlog WHERE org = ? AND group_id = ? AND member_id IN (` + inList(len(chunk)) + `)`,
			args:  append([]any{org, groupID}, stringsToAny(chunk)...)})
		if err != nil {
			return fmt.Errorf("dropping group %s's deferred memberships: %w", groupID, err)
		}
	}
	return nil
}

// keepDeletedGroupsNames gives what a large member change left to announce of a group being
// deleted the names it is deleted under: they name it in those announcements once it is gone.
func (s *Store) keepDeletedGroupsNames(ctx context.Context, tx *sql.Tx, group *store.Resource) error {
	_, err := s.exec(ctx, tx, s.q(`UPDATE group_backlog SET name = ?, external_id = ? WHERE org = ? AND group_id = ? AND kind = ?`),
		group.Name, group.ExternalID, group.Org, group.ID, store.GroupMembersToAnnounce)
	if err != nil {
		return fmt.Errorf("naming group %s's waiting announcements: %w", group.ID, err)
	}
	return nil
}
