package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// An organization's data is deleted a part at a time (DeleteOrganization). In one transaction, a
// large organization's deletion held the database for as long as it had rows: on SQLite every
// organization's writes waited for it (50,000 users: 1.2 s, docs/performance.md), and on
// PostgreSQL every organization's event numbering for its events' part.
//
// deletingMark prefixes the integration of a binding whose data is being deleted. The fence
// refuses writes under the binding from then on (no integration is called that), BindOrganization
// refuses to bind the organization, and the replicas' binding check stops serving it; the claim
// stays, so that only the deletion's caller can go on with it.
const deletingMark = "deleting:"

// deletionPart is how many rows of one table one transaction of a deletion deletes.
var deletionPart = 2000

// markDeleting marks org's binding as being deleted, after waiting for the organization's writes
// in flight, when b may delete it (the checks DeleteOrganization documents); an organization
// with nothing bound gets a marked binding of b's claim.
func (s *Store) markDeleting(ctx context.Context, org string, b store.Binding) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockOrganization(ctx, tx, org); err != nil {
			return err
		}
		if h := afterOrganizationLocked.Swap(nil); h != nil {
			(*h)()
		}
		bound, err := s.bindingIn(ctx, tx, org)
		if err != nil {
			return err
		}
		if bound.Claim != "" && bound.Claim != b.Claim {
			return &store.ClaimMismatchError{Organization: org, Owner: bound.Claim}
		}
		served := strings.TrimPrefix(bound.Integration, deletingMark)
		if b.Integration != "" && served != "" && served != b.Integration {
			return &store.ServedElsewhereError{Organization: org, Integration: served}
		}
		switch {
		case bound == store.Binding{}:
			_, err = s.exec(ctx, tx, s.q(`INSERT INTO organization_owners (org, claim_uid, integration_uid) VALUES (?, ?, ?)`),
				org, b.Claim, deletingMark)
		case served == bound.Integration:
			_, err = s.exec(ctx, tx, s.q(`UPDATE organization_owners SET integration_uid = ? WHERE org = ?`), deletingMark+served, org)
		}
		if err != nil {
			return fmt.Errorf("marking organization %s as being deleted: %w", org, err)
		}
		return nil
	})
}

// stillDeleting reports whether org's binding is still marked as being deleted, in tx; false
// when the deletion is done (another call finished it).
func (s *Store) stillDeleting(ctx context.Context, tx *sql.Tx, org string) (bool, error) {
	bound, err := s.bindingIn(ctx, tx, org)
	if err != nil {
		return false, err
	}
	if bound == (store.Binding{}) {
		return false, nil
	}
	if !strings.HasPrefix(bound.Integration, deletingMark) {
		return false, fmt.Errorf("organization %s was bound while its data was being deleted", org)
	}
	return true, nil
}

// deleteInParts deletes org's rows of table t, a part a transaction, while the organization is
// marked as being deleted; each part holds the organization's fence shared, so the mark cannot
// go under it.
func (s *Store) deleteInParts(ctx context.Context, org, t string) error {
	rows := `SELECT rowid FROM ` + t + ` WHERE org = ? LIMIT ?`
	del := `DELETE FROM ` + t + ` WHERE rowid IN (` + rows + `)`
	if s.d.name() == "postgres" {
		del = `DELETE FROM ` + t + ` WHERE ctid = ANY(ARRAY(SELECT ctid FROM ` + t + ` WHERE org = ? LIMIT ?))`
	}
	for {
		var n int64
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			n = 0
			if s.d.name() == "postgres" {
				if _, err := s.exec(ctx, tx, `SELECT pg_advisory_xact_lock_shared(`+fenceKey+`)`, org); err != nil {
					return err
				}
			}
			if held, err := s.stillDeleting(ctx, tx, org); err != nil || !held {
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
		if n < int64(deletionPart) {
			return nil
		}
	}
}

// afterDeletionPart, when set, runs after each part of a deletion with the part's table; an
// error stops the deletion there (tests).
var afterDeletionPart atomic.Pointer[func(table string) error]
