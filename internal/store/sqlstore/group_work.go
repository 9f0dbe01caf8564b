package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Group work (the group_backlog table, migration 0017/0020): what a write of a large group, or the
// deletion of a member of many groups, leaves for later. Group sizes are not limited, and a
// deletion ends every membership of the group, each with its event and, under role mappings, its
// member's role; a rename onto or off a mapping reviews every member's role. In one transaction
// that is as long as the group is large, and on SQLite every organization's writes wait for it.
// So a write of a group of more than provisioning.MembersPerTransaction members does only its own
// part (the group's row, its event) and records its members' part here, in its own transaction;
// the leader's group worker (internal/groupwork) does it that many members at a time. A smaller
// group's write does all of it, as before. The same holds for the deletion of a user (or a
// nested group) that is a member of more groups than that: its row and its own events go with
// the write, its memberships (MemberDeleted work, keyed by the member's id in group_id,
// member_work.go) later; and for a write adding or removing more members than that: the
// memberships change with the write, their events and roles follow (GroupMembersToAnnounce,
// membership_announcements.go).
//
// A deleted group's or member's row goes with its write: from then on it is gone from every read
// (a user's groups, filters on them and role mappings join the group's row; a group's members
// and filters on them skip a member with MemberDeleted work, memberIsThere), and only its
// membership rows wait to be ended.

// deferGroupWork records work for later in tx, starting over when the same work is recorded
// again (a second rename restarts the review from the first member); the work keeps its age.
func (s *Store) deferGroupWork(ctx context.Context, tx *sql.Tx, org, groupID, kind string, names provisioning.Group,
	origin provisioning.Origin) error {
	_, err := s.exec(ctx, tx, s.q(`INSERT INTO group_backlog (org, group_id, kind, name, external_id, request_id, actor, member_after, created_us)
		VALUES (?, ?, ?, ?, ?, ?, ?, '', ?)
		ON CONFLICT (org, group_id, kind) DO UPDATE SET name = excluded.name, external_id = excluded.external_id,
			request_id = excluded.request_id, actor = excluded.actor, member_after = ''`),
		org, groupID, kind, names.DisplayName, names.ExternalID, origin.RequestID, origin.Actor, time.Now().UnixMicro())
	if err != nil {
		return fmt.Errorf("recording work on group %s for later: %w", groupID, err)
	}
	return nil
}

// PendingGroupWork lists deferred group work of the kinds this release does, of the
// organizations named (the ones the caller can do: another's rows, such as those of data kept
// without an integration, must not take their places), a few pieces of each, oldest first.
func (s *Store) PendingGroupWork(ctx context.Context, orgs []string, perOrganization, limit int) ([]store.GroupWork, error) {
	var out []store.GroupWork
	for _, chunk := range chunks(orgs) {
		args := append([]any{store.GroupDeleted, store.GroupRolesToReview, store.MemberDeleted, store.GroupMembersToAnnounce},
			stringsToAny(chunk)...)
		err := s.eachRow(ctx, `SELECT org, group_id, kind, created_us FROM (
				SELECT org, group_id, kind, created_us, ROW_NUMBER() OVER (PARTITION BY org ORDER BY created_us, group_id, kind) AS n
				FROM group_backlog WHERE kind IN (?, ?, ?, ?) AND org IN (`+inList(len(chunk))+`)) w
			WHERE n <= ? ORDER BY created_us, org LIMIT ?`, append(args, perOrganization, limit),
			func(scan func(...any) error) error {
				var w store.GroupWork
				var since int64
				if err := scan(&w.Org, &w.GroupID, &w.Kind, &since); err != nil {
					return err
				}
				w.Since = time.UnixMicro(since).UTC()
				out = append(out, w)
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("listing deferred group work: %w", err)
		}
	}
	slices.SortStableFunc(out, func(a, b store.GroupWork) int { return a.Since.Compare(b.Since) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// DoGroupWork does the next members of work in one fenced transaction, holding the
// organization's member lock (its events describe members, decision 0021).
func (s *Store) DoGroupWork(ctx context.Context, work store.GroupWork, w store.Write) (bool, error) {
	policy := provisioning.DefaultPolicy
	if w.Policy != nil {
		policy = *w.Policy
	}
	limit := provisioning.MembersPerTransaction
	var more bool
	err := s.inFencedTx(ctx, work.Org, w.Binding, lockAllMembers, func(tx *sql.Tx) error {
		more = false
		var names provisioning.Group
		origin := provisioning.Origin{Time: time.Now().UTC()}
		var after string
		err := s.queryRow(ctx, tx, s.q(`SELECT name, external_id, request_id, actor, member_after FROM group_backlog
			WHERE org = ? AND group_id = ? AND kind = ?`+s.d.forUpdate()), work.Org, work.GroupID, work.Kind).
			Scan(&names.DisplayName, &names.ExternalID, &origin.RequestID, &origin.Actor, &after)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // done already (another replica, or the organization's data deleted)
		}
		if err != nil {
			return fmt.Errorf("reading deferred work on group %s: %w", work.GroupID, err)
		}
		p := s.newProvisioningTx(tx)
		var members []string
		switch work.Kind {
		case store.GroupDeleted, store.GroupRolesToReview:
			if members, err = s.groupPart(ctx, tx, p, work, policy, names, after, origin); err != nil {
				return err
			}
			more = len(members) == limit
		case store.MemberDeleted:
			if more, err = s.memberPart(ctx, tx, p, work, origin); err != nil {
				return err
			}
		case store.GroupMembersToAnnounce:
			if more, err = s.announcePart(ctx, tx, p, work, policy, names, origin); err != nil {
				return err
			}
		default:
			return nil // a kind a later release records: left for it
		}
		if err := p.finish(ctx); err != nil {
			return err
		}
		if more {
			if work.Kind != store.GroupRolesToReview {
				return nil // the rows done are gone
			}
			_, err := s.exec(ctx, tx, s.q(`UPDATE group_backlog SET member_after = ? WHERE org = ? AND group_id = ? AND kind = ?`),
				members[len(members)-1], work.Org, work.GroupID, work.Kind)
			return err
		}
		_, err = s.exec(ctx, tx, s.q(`DELETE FROM group_backlog WHERE org = ? AND group_id = ? AND kind = ?`), work.Org, work.GroupID, work.Kind)
		return err
	})
	return more, err
}

// groupPart does the next members of a deleted group's or a renamed group's work, after the
// member id after, and returns the members it did.
func (s *Store) groupPart(ctx context.Context, tx *sql.Tx, p provisioningTx, work store.GroupWork, policy provisioning.Policy,
	names provisioning.Group, after string, origin provisioning.Origin) ([]string, error) {
	if work.Kind == store.GroupRolesToReview && (len(policy.GroupRoles) == 0 || policy.DryRun) {
		return nil, nil // a role review whose mappings are gone has nothing left to do: it ends
	}
	members, err := s.column(ctx, tx, `SELECT member_id FROM scim_group_members WHERE org = ? AND group_id = ? AND member_id > ?
		ORDER BY member_id LIMIT ?`, work.Org, work.GroupID, after, provisioning.MembersPerTransaction)
	if err != nil {
		return nil, fmt.Errorf("reading members of group %s: %w", work.GroupID, err)
	}
	if work.Kind == store.GroupRolesToReview {
		return members, provisioning.RolesReviewed(ctx, p, policy, work.Org, members, origin)
	}
	if len(members) > 0 {
		// The first members in id order, all of them up to the last read.
		if _, err := s.exec(ctx, tx, s.q(`DELETE FROM scim_group_members WHERE org = ? AND group_id = ? AND member_id <= ?`),
			work.Org, work.GroupID, members[len(members)-1]); err != nil {
			return nil, fmt.Errorf("ending memberships of group %s: %w", work.GroupID, err)
		}
	}
	return members, provisioning.MembershipsEnded(ctx, p, policy, work.Org, work.GroupID, names, members, origin)
}

// deleteGroupLater deletes a group of more than provisioning.MembersPerTransaction members in tx
// and leaves its members' memberships to the group worker: deferred is false, and nothing done,
// for a smaller group, whose members it returns for Delete to end with their events.
func (s *Store) deleteGroupLater(ctx context.Context, tx *sql.Tx, current *store.Resource, w store.Write) (members []string, deferred bool, err error) {
	org, id := current.Org, current.ID
	members, err = s.column(ctx, tx, `SELECT member_id FROM scim_group_members WHERE org = ? AND group_id = ? LIMIT ?`,
		org, id, provisioning.MembersPerTransaction+1)
	if err != nil {
		return nil, false, fmt.Errorf("reading members of %s: %w", id, err)
	}
	if len(members) <= provisioning.MembersPerTransaction {
		return members, false, nil
	}
	if _, err := s.exec(ctx, tx, s.q(`DELETE FROM scim_groups WHERE org = ? AND id = ?`), org, id); err != nil {
		return nil, false, fmt.Errorf("deleting group %s: %w", id, err)
	}
	// Its own memberships of other groups (a nested group), as Delete ends them: without events.
	if _, err := s.leaveGroups(ctx, tx, org, store.KindGroup, id, w); err != nil {
		return nil, false, err
	}
	origin := originOf(w.Audit)
	if err := s.deferGroupWork(ctx, tx, org, id, store.GroupDeleted, *groupOf(current), origin); err != nil {
		return nil, false, err
	}
	return nil, true, s.effects(ctx, tx, w, org, id, func(ptx provisioning.Tx, o provisioning.Origin) error {
		// The group's event now, its members' later.
		return provisioning.GroupWritten(ctx, ptx, *w.Policy, provisioning.GroupWrite{Org: org, GroupID: id, Before: groupOf(current), Origin: o})
	})
}
