package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// The organization fence (decision 0020): a write lands only while the organization is bound as
// when its request was authenticated (store.Binding: the claim owning the data, the integration
// serving it). Deleting or re-binding an organization waits for its writes in flight, and a write
// after it is refused: nothing a request writes can outlive the deletion into the data of the
// organization's next owner, or of its next integration.
//
// On PostgreSQL a write's first statement is organization_fence (migration 0013), which holds the
// organization's lock shared until the write's end; DeleteOrganization and BindOrganization take
// it exclusively. SQLite has one writer at a time: reading the binding in the write's transaction
// is the fence.

// fenceSQL refuses (SQLSTATE EIO01) unless the organization is bound as the write says, after
// taking the organization's lock shared for the rest of the transaction.
const fenceSQL = `SELECT organization_fence($1, $2, $3)`

// fenceLockSQL only takes the organization's fence shared: a write made in one statement sends
// it ahead of the statement, which checks the binding itself (bindingHeld), in a snapshot taken
// after the lock was granted. Cheaper than organization_fence's PL/pgSQL on the hottest paths.
const fenceLockSQL = `SELECT pg_advisory_xact_lock_shared(` + fenceKey + `)`

// fenceKey is an organization's ($1) fence lock: class 7316236 of two-key advisory locks, as in
// migration 0013's organization_held.
const fenceKey = `7316236, hashtext($1)`

// bindingHeld is a condition on an organization, a claim and an integration (its arguments, in
// bindingArgs' order): the organization is bound to them, as organization_held decides.
const bindingHeld = `COALESCE((SELECT claim_uid = ? AND integration_uid IN ('', ?) FROM organization_owners WHERE org = ?), CAST(? AS text) = '')`

// bindingArgs are bindingHeld's arguments.
func bindingArgs(org string, b store.Binding) []any {
	return []any{b.Claim, b.Integration, org, b.Claim}
}

// fenceRefused is the SQLSTATE organization_fence raises.
const fenceRefused = "EIO01"

// inFencedTx runs fn in a transaction (inTx) whose writes of org land only while it is bound as
// b says: the fence is the transaction's first statement, before any lock fn takes. The locks of
// the members whose events the write records come next (member_locks.go).
func (s *Store) inFencedTx(ctx context.Context, org string, b store.Binding, members memberLocks, fn func(*sql.Tx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.fence(ctx, tx, org, b); err != nil {
			return err
		}
		if err := s.lockMembersOf(ctx, tx, org, members); err != nil {
			return err
		}
		return fn(tx)
	})
}

// fence makes tx's writes of org land only while it is bound as b says. On PostgreSQL the check
// is held (pending_writes.go): it goes ahead of the transaction's next statement in the same
// round trip, and its refusal is that statement's error (released maps it).
func (s *Store) fence(ctx context.Context, tx *sql.Tx, org string, b store.Binding) error {
	if s.d.name() == "postgres" {
		_, err := s.exec(holdUntilNext(ctx), tx, fenceSQL, org, b.Claim, b.Integration)
		return err
	}
	held, err := s.bindingHeldIn(ctx, tx, org, b)
	if err != nil {
		return err
	}
	if !held {
		return store.ErrOrganizationReleased
	}
	return nil
}

// bindingHeldIn reads whether org is bound as b says, in tx.
func (s *Store) bindingHeldIn(ctx context.Context, tx *sql.Tx, org string, b store.Binding) (bool, error) {
	bound, err := s.bindingIn(ctx, tx, org)
	if err != nil {
		return false, err
	}
	return bound.Holds(b), nil
}

// lockOrganization takes org's fence exclusively for the rest of tx: it waits for the
// organization's writes in flight, and the writes after it see what tx did once it commits.
// SQLite's writes run one at a time: nothing to wait for.
func (s *Store) lockOrganization(ctx context.Context, tx *sql.Tx, org string) error {
	if s.d.name() != "postgres" {
		return nil
	}
	if _, err := s.exec(ctx, tx, `SELECT pg_advisory_xact_lock(`+fenceKey+`)`, org); err != nil {
		return fmt.Errorf("waiting for the writes of organization %s: %w", org, err)
	}
	return nil
}

// orgBinding is an organization and the binding a request acted under.
type orgBinding struct {
	org string
	b   store.Binding
}

// heldOrganizations returns the pairs whose organizations are bound as they say, each fenced for
// the rest of tx as a write's (organization_held on PostgreSQL).
func (s *Store) heldOrganizations(ctx context.Context, tx *sql.Tx, pairs []orgBinding) (map[orgBinding]bool, error) {
	held := make(map[orgBinding]bool, len(pairs))
	if s.d.name() != "postgres" {
		for _, p := range pairs {
			ok, err := s.bindingHeldIn(ctx, tx, p.org, p.b)
			if err != nil {
				return nil, err
			}
			if ok {
				held[p] = true
			}
		}
		return held, nil
	}
	orgs, claims, integrations := make([]string, len(pairs)), make([]string, len(pairs)), make([]string, len(pairs))
	for i, p := range pairs {
		orgs[i], claims[i], integrations[i] = p.org, p.b.Claim, p.b.Integration
	}
	rows, err := tx.QueryContext(ctx, `SELECT o, c, i FROM unnest($1::text[], $2::text[], $3::text[]) AS t(o, c, i) WHERE organization_held(o, c, i)`,
		orgs, claims, integrations)
	if err != nil {
		return nil, fmt.Errorf("checking the organizations' bindings: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var p orgBinding
		if err := rows.Scan(&p.org, &p.b.Claim, &p.b.Integration); err != nil {
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
