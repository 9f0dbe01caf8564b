package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// The organization fence (decision 0020): a write lands only while the OrganizationClaim its
// request was authenticated under owns the organization's data. Deleting or re-binding an
// organization waits for its writes in flight, and a write after it is refused: nothing a request
// of the organization's last owner writes can outlive the deletion into the next owner's data.
//
// On PostgreSQL a write's first statement is organization_fence (migration 0013), which holds the
// organization's lock shared until the write's end; DeleteOrganization and BindOrganization take
// it exclusively. SQLite has one writer at a time: reading the owner in the write's transaction
// is the fence.

// fenceSQL refuses (SQLSTATE EIO01) unless the claim owns the organization, after taking the
// organization's lock shared for the rest of the transaction.
const fenceSQL = `SELECT organization_fence($1, $2)`

// fenceLockSQL only takes the organization's fence shared: a write made in one statement sends
// it ahead of the statement, which checks the owner itself (ownerHeld), in a snapshot taken
// after the lock was granted. Cheaper than organization_fence's PL/pgSQL on the hottest paths.
const fenceLockSQL = `SELECT pg_advisory_xact_lock_shared(7316236, hashtext($1))`

// ownerHeld is a condition on an organization and a claim (its two arguments): the claim owns
// the organization's data ("" while nothing is bound).
const ownerHeld = `COALESCE((SELECT claim_uid FROM organization_owners WHERE org = ?), '') = ?`

// fenceRefused is the SQLSTATE organization_fence raises.
const fenceRefused = "EIO01"

// fence makes tx's writes of org land only while claim owns it. On PostgreSQL the check is held
// (pending_writes.go): it goes ahead of the transaction's next statement in the same round trip,
// and its refusal is that statement's error (released maps it).
func (s *Store) fence(ctx context.Context, tx *sql.Tx, org, claim string) error {
	if s.d.name() == "postgres" {
		_, err := s.exec(holdUntilNext(ctx), tx, fenceSQL, org, claim)
		return err
	}
	owner, err := s.ownerIn(ctx, tx, org)
	if err != nil {
		return err
	}
	if owner != claim {
		return store.ErrOrganizationReleased
	}
	return nil
}

// lockOrganization takes org's fence exclusively for the rest of tx: it waits for the
// organization's writes in flight, and the writes after it see what tx did once it commits.
// SQLite's writes run one at a time: nothing to wait for.
func (s *Store) lockOrganization(ctx context.Context, tx *sql.Tx, org string) error {
	if s.d.name() != "postgres" {
		return nil
	}
	if _, err := s.exec(ctx, tx, `SELECT pg_advisory_xact_lock(7316236, hashtext($1))`, org); err != nil {
		return fmt.Errorf("waiting for the writes of organization %s: %w", org, err)
	}
	return nil
}

// orgClaim is an organization and the claim a request acted under.
type orgClaim struct{ org, claim string }

// heldOrganizations returns the pairs whose claims own their organizations, each fenced for the
// rest of tx as a write's (organization_held on PostgreSQL).
func (s *Store) heldOrganizations(ctx context.Context, tx *sql.Tx, pairs []orgClaim) (map[orgClaim]bool, error) {
	held := make(map[orgClaim]bool, len(pairs))
	if s.d.name() != "postgres" {
		for _, p := range pairs {
			owner, err := s.ownerIn(ctx, tx, p.org)
			if err != nil {
				return nil, err
			}
			if owner == p.claim {
				held[p] = true
			}
		}
		return held, nil
	}
	orgs, claims := make([]string, len(pairs)), make([]string, len(pairs))
	for i, p := range pairs {
		orgs[i], claims[i] = p.org, p.claim
	}
	rows, err := tx.QueryContext(ctx, `SELECT o, c FROM unnest($1::text[], $2::text[]) AS t(o, c) WHERE organization_held(o, c)`, orgs, claims)
	if err != nil {
		return nil, fmt.Errorf("checking the organizations' owners: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var p orgClaim
		if err := rows.Scan(&p.org, &p.claim); err != nil {
			return nil, err
		}
		held[p] = true
	}
	return held, rows.Err()
}

// released maps PostgreSQL's refusal by the fence to store.ErrOrganizationReleased.
func released(err error) error {
	var e *pgconn.PgError
	if errors.As(err, &e) && e.Code == fenceRefused {
		return store.ErrOrganizationReleased
	}
	return err
}
