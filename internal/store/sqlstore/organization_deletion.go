package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// An organization's data is deleted a part at a time (DeleteOrganization). In one transaction, a
// large organization's deletion held the database for as long as it had rows: on SQLite every
// organization's writes waited for it (50,000 users: 1.2 s, docs/performance.md), and on
// PostgreSQL every organization's event numbering for its events' part.
//
// deletingMark prefixes both the claim and the integration of a binding whose data is being
// deleted (Binding.Deleting, as bindingIn reads it). No write's binding is called that, so the
// fence refuses the organization's writes, in this release and the ones before it (they see
// another claim); BindOrganization refuses it; replicas stop serving it (tenant.BindingCheck).
// Once marked, the data goes: the call that marked it deletes it, and the leader's
// tenant.DeletionResumer finishes a deletion that stopped half-way, whatever became of the
// caller.
const deletingMark = "deleting:"

// unmarked reads a binding as stored: a marked one is the binding it was, Deleting.
func unmarked(b store.Binding) store.Binding {
	if claim, ok := strings.CutPrefix(b.Claim, deletingMark); ok {
		return store.Binding{Claim: claim, Integration: strings.TrimPrefix(b.Integration, deletingMark), Deleting: true}
	}
	return b
}

// deletionPart is how many rows of one table one transaction of a deletion deletes.
var deletionPart = 2000

// markDeleting marks org's binding as being deleted, after waiting for the organization's writes
// in flight, when b may delete it (the checks DeleteOrganization documents); an organization
// with nothing bound gets a marked binding of b's claim, which its deletion's end removes.
func (s *Store) markDeleting(ctx context.Context, org string, b store.Binding) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		bound, err := s.lockedBinding(ctx, tx, org)
		if err != nil {
			return err
		}
		if bound.Claim != "" && bound.Claim != b.Claim {
			return &store.ClaimMismatchError{Organization: org, Owner: bound.Claim}
		}
		if bound.Deleting {
			return nil // marked by an earlier call, whichever integration's: the data is going
		}
		if b.Integration != "" && bound.Integration != "" && bound.Integration != b.Integration {
			return &store.ServedElsewhereError{Organization: org, Integration: bound.Integration}
		}
		if bound == (store.Binding{}) {
			_, err = s.exec(ctx, tx, s.q(`INSERT INTO organization_owners (org, claim_uid, integration_uid) VALUES (?, ?, ?)`),
				org, deletingMark+b.Claim, deletingMark)
		} else {
			_, err = s.exec(ctx, tx, s.q(`UPDATE organization_owners SET claim_uid = ?, integration_uid = ? WHERE org = ?`),
				deletingMark+bound.Claim, deletingMark+bound.Integration, org)
		}
		if err != nil {
			return fmt.Errorf("marking organization %s as being deleted: %w", org, err)
		}
		return nil
	})
}

// OrganizationsBeingDeleted lists organizations whose deletion is marked and not finished.
func (s *Store) OrganizationsBeingDeleted(ctx context.Context, limit int) ([]string, error) {
	orgs, err := s.columnOutside(ctx, `SELECT org FROM organization_owners WHERE claim_uid LIKE ? ORDER BY org LIMIT ?`, deletingMark+"%", limit)
	if err != nil {
		return nil, fmt.Errorf("listing organizations being deleted: %w", err)
	}
	return orgs, nil
}

// FinishOrganizationDeletion deletes a marked organization's data, unless a deletion of it is
// under way in this process already (finished is false then, and when it is not marked).
func (s *Store) FinishOrganizationDeletion(ctx context.Context, org string) (finished bool, err error) {
	return s.finishDeletion(ctx, org, false)
}

// finishDeletion deletes a marked organization's data, a part a transaction, then what is left
// and the binding in one. Deletions of one organization take turns in this process (two
// deleters would split each part and end each table early); wait says to wait for one under way
// rather than leave it the work.
func (s *Store) finishDeletion(ctx context.Context, org string, wait bool) (bool, error) {
	release, ok, err := s.deletions.acquire(ctx, org, wait)
	if !ok || err != nil {
		return false, err
	}
	defer release()
	for _, t := range s.organizationTables() {
		if t == "organization_owners" {
			continue
		}
		if err := s.deleteInParts(ctx, org, t); err != nil {
			if errors.Is(err, errNotDeleting) {
				return false, nil // finished by another call
			}
			return false, err
		}
	}
	finished := false
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		finished = false
		if err := s.lockOrganization(ctx, tx, org); err != nil {
			return err
		}
		if err := s.stillDeleting(ctx, tx, org); err != nil {
			if errors.Is(err, errNotDeleting) {
				return nil
			}
			return err
		}
		finished = true
		for _, t := range s.organizationTables() {
			if t == "event_numbers" {
				// The events' rows are deleted. A numbering pass either ends before this takes
				// the lock (the numbers it committed are deleted next) or starts after the commit
				// (and no longer sees the rows): no number outlives its event to be read as one
				// of the organization's new events.
				if err := lockNumbering(ctx, tx); err != nil {
					return err
				}
			}
			if _, err := s.exec(ctx, tx, s.q(`DELETE FROM `+t+` WHERE org = ?`), org); err != nil {
				return fmt.Errorf("deleting %s of %s: %w", t, org, err)
			}
		}
		return nil
	})
	return finished && err == nil, err
}

// deletionLocks let one deletion of an organization run at a time in the process; deletions of
// different organizations run side by side.
type deletionLocks struct {
	mu   sync.Mutex
	held map[string]chan struct{} // closed when released
}

// acquire takes org's lock: when another holds it, it waits for it (or ctx) if wait, and
// otherwise answers not ok at once.
func (l *deletionLocks) acquire(ctx context.Context, org string, wait bool) (release func(), ok bool, err error) {
	for {
		l.mu.Lock()
		done, busy := l.held[org]
		if !busy {
			if l.held == nil {
				l.held = map[string]chan struct{}{}
			}
			mine := make(chan struct{})
			l.held[org] = mine
			l.mu.Unlock()
			return func() {
				l.mu.Lock()
				delete(l.held, org)
				l.mu.Unlock()
				close(mine)
			}, true, nil
		}
		l.mu.Unlock()
		if !wait {
			return nil, false, nil
		}
		select {
		case <-done:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// errNotDeleting: the organization is not marked as being deleted (any more).
var errNotDeleting = errors.New("the organization is not being deleted")

// stillDeleting checks, in tx, that org's binding is still marked as being deleted.
func (s *Store) stillDeleting(ctx context.Context, tx *sql.Tx, org string) error {
	bound, err := s.bindingIn(ctx, tx, org)
	if err != nil {
		return err
	}
	if !bound.Deleting {
		return errNotDeleting
	}
	return nil
}

// deletePartQuery deletes the rows of table t that a read of at most a parameter's number of rows
// where cond finds, returning columns returning ("": none), by their row addresses (deleteInParts).
func deletePartQuery(d dialect, t, cond, returning string) string {
	if returning != "" {
		returning = " RETURNING " + returning
	}
	if d.name() == "postgres" {
		return `DELETE FROM ` + t + ` WHERE ctid = ANY(ARRAY(SELECT ctid FROM ` + t + ` WHERE ` + cond + ` LIMIT ?))` + returning
	}
	return `DELETE FROM ` + t + ` WHERE rowid IN (SELECT rowid FROM ` + t + ` WHERE ` + cond + ` LIMIT ?)` + returning
}

// deleteInParts deletes org's rows of table t, a part a transaction, while the organization is
// marked as being deleted, until a part finds none; each part holds the organization's fence
// shared, so the mark cannot go under it.
//
// PostgreSQL deletes the rows a part read by their ctid alone, which it plans as a scan of those
// row addresses. With a condition on an indexed column beside it, a plan estimating few rows (an
// organization new since the last ANALYZE) walked that index instead, comparing each of the
// organization's rows with each address read: 62 ms a part of 500 among 20,000, growing with
// the rows left. The addresses come from the statement's own snapshot, whose rows are neither
// removed nor their places reused while it runs; a row updated meanwhile is followed to its
// newest version, the same row (its org is never updated).
func (s *Store) deleteInParts(ctx context.Context, org, t string) error {
	del := deletePartQuery(s.d, t, "org = ?", "")
	for {
		var n int64
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			n = 0
			if s.d.name() == "postgres" {
				if _, err := s.exec(ctx, tx, `SELECT pg_advisory_xact_lock_shared(`+fenceKey+`)`, org); err != nil {
					return err
				}
			}
			if err := s.stillDeleting(ctx, tx, org); err != nil {
				return err
			}
			if t == "event_numbers" {
				if err := lockNumbering(ctx, tx); err != nil {
					return err
				}
			}
			res, err := s.exec(ctx, tx, s.q(del), org, deletionPart)
			if err != nil {
				return fmt.Errorf("deleting %s of %s: %w", t, org, err)
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return err
		}
		if h := afterDeletionPart.Load(); h != nil {
			if err := (*h)(t); err != nil {
				return err
			}
		}
		if n == 0 {
			// Not "fewer than a part": a row another transaction updated meanwhile moved on
			// PostgreSQL, and the rest would go in the last, unbounded transaction.
			return nil
		}
	}
}

// afterDeletionPart, when set, runs after each part of a deletion with the part's table; an
// error stops the deletion there (tests).
var afterDeletionPart atomic.Pointer[func(table string) error]
