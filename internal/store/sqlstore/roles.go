package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/lifecycle"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// groupRoles reports whether a write's policy maps groups to roles (otherwise group changes
// cannot change roles, and nothing is recomputed).
func groupRoles(w store.Write) bool {
	return w.Policy != nil && len(w.Policy.GroupRoles) > 0 && !w.Policy.DryRun
}

// groupMemberIDs lists a group's direct members.
func (s *Store) groupMemberIDs(ctx context.Context, tx *sql.Tx, org, groupID string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT member_id FROM scim_group_members WHERE org = ? AND group_id = ?`), org, groupID)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// refreshRoles recomputes the role of each member from its groups (first matching mapping wins)
// and records changes; ids that are not members (groups, unknown) are skipped.
func (s *Store) refreshRoles(ctx context.Context, tx *sql.Tx, p lifecycle.Policy, org string, ids []string, requestID string) error {
	now := time.Now().UTC()
	for _, id := range ids {
		var current string
		err := s.queryRow(ctx, tx, s.q(`SELECT role FROM members WHERE org = ? AND user_id = ?`), org, id).Scan(&current)
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading the role of %s: %w", id, err)
		}
		groups, err := s.groupsOfMember(ctx, tx, org, id)
		if err != nil {
			return err
		}
		role := lifecycle.RoleFor(p, groups)
		if role == current {
			continue
		}
		if _, err := s.exec(ctx, tx, s.q(`UPDATE members SET role = ?, modified_us = ? WHERE org = ? AND user_id = ?`),
			role, now.UnixMicro(), org, id); err != nil {
			return fmt.Errorf("changing the role of %s: %w", id, err)
		}
		if err := s.insertAudit(ctx, tx, store.AuditEvent{Org: org, Time: now, RequestID: requestID, Action: "member.role",
			ResourceType: "Member", ResourceID: id, Status: 200, Detail: fmt.Sprintf("Role %q → %q from group membership", current, role)}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) groupsOfMember(ctx context.Context, tx *sql.Tx, org, id string) ([]lifecycle.Group, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT g.name, COALESCE(g.external_id, '') FROM scim_group_members m CROSS JOIN scim_groups g
		WHERE g.org = m.org AND g.id = m.group_id AND m.org = ? AND m.member_id = ?`), org, id)
	if err != nil {
		return nil, fmt.Errorf("reading the groups of %s: %w", id, err)
	}
	defer func() { _ = rows.Close() }()
	var groups []lifecycle.Group
	for rows.Next() {
		var g lifecycle.Group
		if err := rows.Scan(&g.DisplayName, &g.ExternalID); err != nil {
			return nil, err
		}
		groups = append(groups, g)
	}
	return groups, rows.Err()
}
