package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// A group's displayName is unique in its organization, case-insensitively: Microsoft Entra ID
// finds groups by displayName, and asks endpoints to keep it unique (idp-scim-behaviour.md), or a
// second group of a name is linked to the first's members. Groups stored twice under one name
// before this was checked stay; a create or rename onto a name another group holds is refused.
//
// There is no unique index: one could not be built over such older rows. The check runs in the
// write's transaction instead, after a lock on the name on PostgreSQL (two writes of one name
// take turns, and the second's check, a statement after its wait, sees the first's group);
// SQLite's writes are one at a time already.

// groupNameLock is the PostgreSQL advisory lock of an organization's group name, in a class of its
// own (member_locks.go has the others).
const groupNameLock = `SELECT pg_advisory_xact_lock(7316239, hashtext(? || '/' || ?))`

// claimGroupName fails with store.ErrGroupNameTaken when a group of org other than id has the name.
func (s *Store) claimGroupName(ctx context.Context, tx *sql.Tx, org, id, name string) error {
	lower := strings.ToLower(name)
	if s.d.name() == "postgres" {
		if _, err := s.exec(ctx, tx, s.q(groupNameLock), org, lower); err != nil {
			return fmt.Errorf("locking the group name: %w", err)
		}
	}
	var taken bool
	err := s.queryRow(ctx, tx, s.q(`SELECT EXISTS (SELECT 1 FROM scim_groups WHERE org = ? AND name_lower = ? AND id <> ?)`),
		org, lower, id).Scan(&taken)
	if err != nil {
		return fmt.Errorf("looking for the group name: %w", err)
	}
	if taken {
		return store.ErrGroupNameTaken
	}
	return nil
}

// renamesGroup says whether a write of a group gives it another name (a change of case alone
// keeps the group's own name). Compared lower-cased as name_lower is stored: EqualFold calls "ſ"
// and "s" equal, which the stored names are not.
func renamesGroup(current, next *store.Resource) bool {
	return next.Kind == store.KindGroup && strings.ToLower(current.Name) != strings.ToLower(next.Name) //nolint:staticcheck // EqualFold is what this must not be
}
