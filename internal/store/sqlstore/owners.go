package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// BindOrganization records which claim owns an organization's data and which integration
// serves it (see store.Store); the tokens recorded for the integration before are forgotten. The row is read and written in one transaction, under the
// organization's fence (fence.go); on PostgreSQL the insert's primary key decides a race between
// two replicas, and the loser re-reads the winner.
func (s *Store) BindOrganization(ctx context.Context, org string, b store.Binding, adoptFrom string) error {
	if b.Claim == "" {
		return errors.New("binding an organization needs a claim")
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		// A write in flight under the old binding lands first; one after sees the new binding.
		bound, err := s.lockedBinding(ctx, tx, org)
		if err != nil {
			return err
		}
		switch {
		case bound.Deleting:
			return fmt.Errorf("organization %s: %w", org, store.ErrOrganizationBeingDeleted)
		case bound == b:
			return nil
		case bound.Claim == "":
			_, err = s.exec(ctx, tx, s.q(`INSERT INTO organization_owners (org, claim_uid, integration_uid) VALUES (?, ?, ?)`), org, b.Claim, b.Integration)
			if s.d.isUniqueViolation(err) {
				return fmt.Errorf("organization %s was bound concurrently; try again: %w", org, err)
			}
		case bound.Claim == b.Claim || adoptFrom != "" && bound.Claim == adoptFrom:
			_, err = s.exec(ctx, tx, s.q(`UPDATE organization_owners SET claim_uid = ?, integration_uid = ?,
				token_fingerprints = NULL, serving_disabled = FALSE, tokens_version = tokens_version + 1 WHERE org = ? AND claim_uid = ?`),
				b.Claim, b.Integration, org, bound.Claim)
		default:
			return &store.ClaimMismatchError{Organization: org, Owner: bound.Claim}
		}
		if err != nil {
			return fmt.Errorf("binding organization %s to claim %s: %w", org, b.Claim, err)
		}
		return nil
	})
}

// lockedBinding takes org's fence exclusively for the rest of tx (waiting for the organization's
// writes in flight) and reads its binding.
func (s *Store) lockedBinding(ctx context.Context, tx *sql.Tx, org string) (store.Binding, error) {
	if err := s.lockOrganization(ctx, tx, org); err != nil {
		return store.Binding{}, err
	}
	if h := afterOrganizationLocked.Swap(nil); h != nil {
		(*h)()
	}
	return s.bindingIn(ctx, tx, org)
}

// OrganizationOwner returns the claim owning an organization's data, "" when none.
func (s *Store) OrganizationOwner(ctx context.Context, org string) (string, error) {
	return s.ownerIn(ctx, nil, org)
}

// OrganizationBinding returns an organization's binding, zero when none; one being deleted is
// the binding it had, marked Deleting.
func (s *Store) OrganizationBinding(ctx context.Context, org string) (store.Binding, error) {
	return s.bindingIn(ctx, nil, org)
}

// OrganizationBindings returns the bindings of the organizations named, with their recorded
// tokens, in one query per 500.
func (s *Store) OrganizationBindings(ctx context.Context, orgs []string) (map[string]store.BoundOrganization, error) {
	out := make(map[string]store.BoundOrganization, len(orgs))
	for _, chunk := range chunks(orgs) {
		query := `SELECT org, claim_uid, integration_uid, token_fingerprints, serving_disabled, tokens_version
			FROM organization_owners WHERE org IN (` + inList(len(chunk)) + `)`
		err := s.eachRow(ctx, query,
			stringsToAny(chunk), func(scan func(...any) error) error {
				var org string
				var b store.BoundOrganization
				var tokens sql.NullString
				if err := scan(&org, &b.Claim, &b.Integration, &tokens, &b.Disabled, &b.Version); err != nil {
					return err
				}
				b.Binding = unmarked(b.Binding)
				if tokens.Valid {
					b.Tokens = splitFingerprints(tokens.String)
				}
				out[org] = b
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("reading the organizations' bindings: %w", err)
		}
	}
	return out, nil
}

// RecordServing records what an organization's integration serves while it is bound as b says,
// counting the record's changes. A row already holding it is not written again: the controller
// records it on every pass, and the count moves only when what is served does.
func (s *Store) RecordServing(ctx context.Context, org string, b store.Binding, serving store.Serving) error {
	if len(serving.Tokens) > store.MaxRecordedTokens {
		return fmt.Errorf("recording %d token fingerprints for organization %s: at most %d", len(serving.Tokens), org, store.MaxRecordedTokens)
	}
	for _, f := range serving.Tokens {
		if !validFingerprint(f) {
			return fmt.Errorf("recording the tokens of organization %s: a fingerprint is not lower-case hexadecimal (at most 64 characters)", org)
		}
	}
	sorted := slices.Sorted(slices.Values(serving.Tokens))
	joined := strings.Join(slices.Compact(sorted), ",")
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, s.q(`UPDATE organization_owners SET token_fingerprints = ?, serving_disabled = ?, tokens_version = tokens_version + 1
			WHERE org = ? AND claim_uid = ? AND integration_uid = ? AND (token_fingerprints IS NULL OR token_fingerprints <> ? OR serving_disabled <> ?)`),
			joined, serving.Disabled, org, b.Claim, b.Integration, joined, serving.Disabled)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording what organization %s serves: %w", org, err)
	}
	return nil
}

func splitFingerprints(joined string) []string {
	if joined == "" {
		return []string{}
	}
	return strings.Split(joined, ",")
}

func validFingerprint(f string) bool {
	if f == "" || len(f) > 64 {
		return false
	}
	for _, c := range f {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// OrganizationBoundTo returns the organization bound to an integration, "" when none or several
// are (an identity re-created with another organization leaves the first bound to its
// integration too). The table has a row per organization; this runs only when an integration is
// deleted without knowing its organization.
func (s *Store) OrganizationBoundTo(ctx context.Context, integration string) (string, error) {
	if integration == "" {
		return "", nil
	}
	orgs, err := s.columnOutside(ctx, `SELECT org FROM organization_owners WHERE integration_uid IN (?, ?) LIMIT 2`, integration, deletingMark+integration)
	if err != nil {
		return "", fmt.Errorf("reading the organization bound to integration %s: %w", integration, err)
	}
	if len(orgs) != 1 {
		return "", nil
	}
	return orgs[0], nil
}

func (s *Store) ownerIn(ctx context.Context, tx *sql.Tx, org string) (string, error) {
	b, err := s.bindingIn(ctx, tx, org)
	return b.Claim, err
}

func (s *Store) bindingIn(ctx context.Context, tx *sql.Tx, org string) (store.Binding, error) {
	var b store.Binding
	err := s.queryRow(ctx, tx, s.q(`SELECT claim_uid, integration_uid FROM organization_owners WHERE org = ?`), org).Scan(&b.Claim, &b.Integration)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Binding{}, nil
	}
	if err != nil {
		return store.Binding{}, fmt.Errorf("reading the binding of organization %s: %w", org, err)
	}
	return unmarked(b), nil
}

// DeleteOrganization removes every resource, membership, member record and audit event of an
// organization, and its binding, when b's claim owns the data and no other integration than b's
// serves it, in three steps (organization_deletion.go): it marks the binding as being deleted,
// after waiting for the organization's writes in flight (fence.go), which land before it and
// are deleted too; it deletes the data a part at a time, each part a transaction of its own; and
// it deletes what is left and the binding. From the mark on, the organization's writes are
// refused and it cannot be bound; a deletion interrupted goes on where it stopped when called
// again.
func (s *Store) DeleteOrganization(ctx context.Context, org string, b store.Binding) error {
	if err := s.markDeleting(ctx, org, b); err != nil {
		return err
	}
	_, err := s.finishDeletion(ctx, org, true)
	return err
}

// organizationTables hold an organization's data, all keyed by org; the binding goes last. On
// PostgreSQL an event is a row and its number (provisioning_events is a view of both there).
// event_sequences is not among them: an organization's sequence numbers go on after its data is
// deleted and its slug bound again, so a receiver's or an Events API client's "last sequence
// applied" never makes it drop the new data's events as already seen.
func (s *Store) organizationTables() []string {
	events := []string{"provisioning_events"}
	if s.numberer != nil {
		events = []string{"provisioning_event_rows", "event_numbers"}
	}
	tables := []string{"scim_users", "scim_groups", "scim_group_members", "members", "employee_records", "member_history", "audit_events",
		"held_deprovisions", "group_backlog", "membership_backlog"}
	tables = append(tables, events...)
	return append(tables, "event_deliveries", "dead_letters", "organization_owners")
}

// afterOrganizationLocked, when set, runs once in the next DeleteOrganization or
// BindOrganization, once it holds the organization's fence (tests).
var afterOrganizationLocked atomic.Pointer[func()]
