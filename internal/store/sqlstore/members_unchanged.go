package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// membersUnchanged says, on SQLite, whether a group's member change would change no membership
// at the version the write was prepared from (version): members added who are all there already,
// removed who are not, a list replaced by the same. It is asked inside the write's transaction,
// so a write that changes nothing (Change.KeepIfUnchanged) is never made: made and then rolled
// back, as on PostgreSQL, it would fail the group committer's batch and run every write in it
// again. A group at another version says no: the write then meets the version check.
func (s *Store) membersUnchanged(ctx context.Context, tx *sql.Tx, org, groupID string, version int64, c *store.MemberChange) (bool, error) {
	var v int64
	if err := s.queryRow(ctx, tx, s.q(`SELECT version FROM scim_groups WHERE org = ? AND id = ?`), org, groupID).Scan(&v); err != nil {
		if err == sql.ErrNoRows {
			return false, nil
		}
		return false, fmt.Errorf("reading the version of %s: %w", groupID, err)
	}
	if v != version {
		return false, nil
	}
	if c.Replace {
		// A group with more members than the list names is changed by it: read no more than that,
		// so that a PUT of a few members to a huge group does not read it whole in the shared writer.
		members, err := s.column(ctx, tx, `SELECT member_id FROM scim_group_members WHERE org = ? AND group_id = ? LIMIT ?`,
			org, groupID, len(c.Add)+1)
		if err != nil {
			return false, fmt.Errorf("reading members of %s: %w", groupID, err)
		}
		return len(members) <= len(c.Add) && sameSet(members, c.Add), nil
	}
	ids, _ := json.Marshal(append(append([]string{}, c.Add...), c.Remove...))
	present, err := s.column(ctx, tx, `SELECT member_id FROM scim_group_members WHERE org = ? AND group_id = ?
		AND member_id IN (SELECT value FROM json_each(?))`, org, groupID, string(ids))
	if err != nil {
		return false, fmt.Errorf("reading members of %s: %w", groupID, err)
	}
	in := make(map[string]bool, len(present))
	for _, id := range present {
		in[id] = true
	}
	for _, id := range c.Add {
		if !in[id] {
			return false, nil
		}
	}
	for _, id := range c.Remove {
		if in[id] {
			return false, nil
		}
	}
	return true, nil
}

// sameSet says whether a and b hold the same strings, whatever their order and repeats.
func sameSet(a, b []string) bool {
	set := make(map[string]bool, len(a))
	for _, x := range a {
		set[x] = true
	}
	seen := make(map[string]bool, len(b))
	for _, x := range b {
		if !set[x] {
			return false
		}
		seen[x] = true
	}
	return len(seen) == len(set)
}
