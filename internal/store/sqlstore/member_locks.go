package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Member locks (PostgreSQL). An event about a member carries the member as the write leaves it,
// and a receiver replaces its copy with it (docs/events.md), so a member's later event must show
// every earlier event's change. Events take their positions at the end of their write, and a
// write reads a member in its statements' snapshots. Two writes of one member that do not wait
// for each other could each miss the other, and the later event undo the earlier one in every
// receiver's copy: a group change locks no row of its members' (a user's PATCH and a group change
// adding the user), and a statement that waited for a row lock still reads everything else in the
// snapshot taken before it waited.
//
// So a write whose events describe members takes their locks before any statement that reads
// them, and holds them to its end: writes of one member run one after the other, the later one's
// statements see the earlier one's commit, and its events take later positions. A write of many
// members, or of members it learns only as it goes (a group replaced, deleted or renamed under
// role mappings, held deprovisionings released), takes its organization's member lock
// exclusively instead of one lock each: PostgreSQL's lock table is shared by every session (64
// locks a connection by default). A write of a few members takes the organization's lock shared,
// then theirs in key order, so no two writes wait for each other in a cycle. These are advisory
// locks of their own classes, not the fence's, which the shared audit writer also takes: a large
// group change of one organization never holds up another's.
//
// SQLite runs one write at a time: nothing to lock.

// memberLocks names the members whose events a write records (the zero value: none).
type memberLocks struct {
	ids []string
	all bool // every member of the organization
}

// lockMember is a write of one member.
func lockMember(id string) memberLocks { return memberLocks{ids: []string{id}} }

// lockAllMembers is a write of any number of an organization's members.
var lockAllMembers = memberLocks{all: true}

// lockMembers is a write of the members ids: all of them, past maxMemberLocks.
func lockMembers(ids []string) memberLocks {
	if len(ids) > maxMemberLocks {
		return lockAllMembers
	}
	return memberLocks{ids: ids}
}

// updateLocks are the member locks of an update of current to next (none without a policy: it
// records no events): a user's own; for a group,
// the members it adds or removes, or every member when it replaces them or when a new name
// recomputes every member's role (provisioning.GroupWritten).
func updateLocks(current, next *store.Resource, change *store.Change, w store.Write) memberLocks {
	if w.Policy == nil {
		return memberLocks{} // no events
	}
	if current.Kind == store.KindUser {
		return lockMember(current.ID)
	}
	if len(w.Policy.GroupRoles) > 0 && (next.Name != current.Name || next.ExternalID != current.ExternalID) {
		return lockAllMembers
	}
	switch {
	case change.Members == nil:
		return memberLocks{}
	case change.Members.Replace:
		return lockAllMembers
	}
	return lockMembers(append(slices.Clone(change.Members.Add), change.Members.Remove...))
}

// maxMemberLocks bounds the members' locks one write takes; past it, it takes its organization's.
const maxMemberLocks = 16

// Advisory lock classes (two-key locks; the fence is 7316236): an organization's members
// (hashtext(org)) and one member (hashtext(org/id); a slug has no '/').
const (
	orgMembersLock = `7316237, hashtext($1)`
	memberLock     = `7316238, hashtext($1 || '/' || `
)

// oneMemberLockSQL takes the organization's members shared, then member $2's.
const oneMemberLockSQL = `SELECT pg_advisory_xact_lock_shared(` + orgMembersLock + `), pg_advisory_xact_lock(` + memberLock + `$2))`

// fenceAndMemberLockSQL is fenceLockSQL with oneMemberLockSQL's locks after it, in one statement:
// what a user's update in one statement sends ahead of it.
const fenceAndMemberLockSQL = `SELECT pg_advisory_xact_lock_shared(` + fenceKey + `), pg_advisory_xact_lock_shared(` + orgMembersLock + `),
	pg_advisory_xact_lock(` + memberLock + `$2))`

// memberLocksTaken and allMemberLocksTaken count the writes that took members' locks, and their
// organization's exclusively (tests check the paths take them).
var memberLocksTaken, allMemberLocksTaken atomic.Int64

// lockMembersOf takes the locks of l in tx (PostgreSQL), held: they go ahead of tx's next
// statement in its round trip, after the fence.
func (s *Store) lockMembersOf(ctx context.Context, tx *sql.Tx, org string, l memberLocks) error {
	if s.d.name() != "postgres" || (!l.all && len(l.ids) == 0) {
		return nil
	}
	var err error
	switch {
	case l.all:
		allMemberLocksTaken.Add(1)
		_, err = s.exec(holdUntilNext(ctx), tx, `SELECT pg_advisory_xact_lock(`+orgMembersLock+`)`, org)
	case len(l.ids) == 1:
		memberLocksTaken.Add(1)
		_, err = s.exec(holdUntilNext(ctx), tx, oneMemberLockSQL, org, l.ids[0])
	default:
		// In key order (volatile functions run after ORDER BY): two writes of the same members
		// never hold one each of two locks the other waits for.
		memberLocksTaken.Add(1)
		ids := slices.Compact(slices.Sorted(slices.Values(l.ids)))
		if _, err = s.exec(holdUntilNext(ctx), tx, `SELECT pg_advisory_xact_lock_shared(`+orgMembersLock+`)`, org); err == nil {
			_, err = s.exec(holdUntilNext(ctx), tx, `SELECT pg_advisory_xact_lock(`+memberLock+`k.id)) FROM unnest($2::text[]) AS k(id)
				ORDER BY hashtext($1 || '/' || k.id)`, org, ids)
		}
	}
	if err != nil {
		return fmt.Errorf("locking the members of %s: %w", org, err)
	}
	return nil
}

// afterSnapshotsRead, when set, runs once in the next write of events on PostgreSQL, between
// reading their snapshots and taking their positions (tests).
var afterSnapshotsRead atomic.Pointer[func()]
