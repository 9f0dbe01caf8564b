// Package sqlstore implements store.Store on database/sql, for SQLite (modernc.org/sqlite, the
// embedded default) and PostgreSQL (pgx). Filters are translated to parameterised SQL.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/lifecycle"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Store is a SQL-backed store.Store.
type Store struct {
	db    *sql.DB
	d     dialect
	stmts *stmtCache // rebound query → prepared statement (stmts.go)
	// committer, on SQLite, queues writers in the process and commits them in groups: SQLite
	// allows one writer, waiting on its busy handler sleeps in coarse steps, and each commit
	// pays an fsync (see groupcommit.go).
	committer *committer
}

var _ store.Store = (*Store)(nil)

const resourceColumns = "r.id, r.external_id, r.name, r.display_name, r.email_lower, r.active, r.doc, r.created_us, r.modified_us, r.version"

func table(kind store.Kind) string {
	if kind == store.KindGroup {
		return "scim_groups"
	}
	return "scim_users"
}

// Close releases the database.
func (s *Store) Close() error {
	if s.committer != nil {
		s.committer.close()
	}
	s.closeStatements()
	return s.db.Close()
}

// Ping checks that the database answers a query: a reachable PostgreSQL server that refuses
// work (a full disk, a dropped database) fails it too.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("the store does not answer: %w", err)
	}
	return nil
}

// DB exposes the database for the packages that share its transactions (audit, lifecycle).
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) q(query string) string { return s.d.rebind(query) }

// Create stores a new resource, its members and its effects in one transaction.
func (s *Store) Create(ctx context.Context, r *store.Resource, members []string, w store.Write) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if r.Kind == store.KindUser && w.Policy != nil {
			if err := s.refuseTakeover(ctx, tx, r.Org, r.Name); err != nil {
				return err
			}
		}
		if err := s.insert(ctx, tx, r); err != nil {
			return err
		}
		for _, m := range members {
			if err := s.addMember(ctx, tx, r.Org, r.ID, m); err != nil {
				return err
			}
		}
		if r.Kind == store.KindGroup && groupRoles(w) {
			if err := s.refreshRoles(ctx, tx, *w.Policy, r.Org, members, requestIDOf(w)); err != nil {
				return err
			}
		}
		var ev lifecycle.Event
		if r.Kind == store.KindUser {
			ev = lifecycle.EventCreated
			if !r.Active {
				ev = lifecycle.EventDeactivated
			}
		}
		return s.effects(ctx, tx, w, r.Org, r.ID, r, ev)
	})
}

func (s *Store) insert(ctx context.Context, tx *sql.Tx, r *store.Resource) error {
	_, err := s.exec(ctx, tx, s.q(`INSERT INTO `+table(r.Kind)+`
		(org, id, name, name_lower, external_id, display_name, email_lower, active, doc, created_us, modified_us, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, `+s.d.doc()+`, ?, ?, ?)`),
		r.Org, r.ID, r.Name, strings.ToLower(r.Name), nullString(r.ExternalID), nullString(r.DisplayName), nullString(strings.ToLower(r.Email)),
		s.d.columnBool(r.Active), string(r.Doc), r.Created.UnixMicro(), r.Modified.UnixMicro(), r.Version)
	if s.d.isUniqueViolation(err) {
		return store.ErrUniqueness
	}
	if err != nil {
		return fmt.Errorf("inserting %s: %w", r.Kind, err)
	}
	return nil
}

// Get returns one resource of the organization.
func (s *Store) Get(ctx context.Context, org string, kind store.Kind, id string) (*store.Resource, error) {
	return s.get(ctx, nil, org, kind, id, "")
}

func (s *Store) get(ctx context.Context, tx *sql.Tx, org string, kind store.Kind, id, lock string) (*store.Resource, error) {
	row := s.queryRow(ctx, tx, s.q(`SELECT `+resourceColumns+` FROM `+table(kind)+` r WHERE r.org = ? AND r.id = ?`+lock), org, id)
	r, err := s.scan(row.Scan, org, kind)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	return r, err
}

func (s *Store) scan(scan func(...any) error, org string, kind store.Kind) (*store.Resource, error) {
	var (
		r                          = &store.Resource{Org: org, Kind: kind}
		externalID, display, email sql.NullString
		doc                        string
		created, modified          int64
		active                     any
	)
	if err := scan(&r.ID, &externalID, &r.Name, &display, &email, &active, &doc, &created, &modified, &r.Version); err != nil {
		return nil, err
	}
	r.ExternalID, r.DisplayName, r.Email = externalID.String, display.String, email.String
	r.Doc = []byte(doc)
	r.Created, r.Modified = time.UnixMicro(created).UTC(), time.UnixMicro(modified).UTC()
	switch v := active.(type) {
	case bool:
		r.Active = v
	case int64:
		r.Active = v != 0
	}
	return r, nil
}

// Update applies fn's change to the current resource in one transaction.
func (s *Store) Update(ctx context.Context, org string, kind store.Kind, id string, ifVersion int64,
	fn func(*store.Resource) (*store.Change, error), w store.Write) (*store.Resource, error) {
	var result *store.Resource
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		current, err := s.get(ctx, tx, org, kind, id, s.d.forUpdate())
		if err != nil {
			return err
		}
		if ifVersion > 0 && current.Version != ifVersion {
			return store.ErrVersionMismatch
		}
		change, err := fn(current)
		if err != nil {
			return err
		}
		if change == nil {
			result = current
			return s.effects(ctx, tx, w, org, id, nil, "")
		}
		next := current
		if change.Resource != nil {
			next = change.Resource
		}
		next.Org, next.Kind, next.ID, next.Created = org, kind, id, current.Created
		next.Version = current.Version + 1
		next.Modified = time.Now().UTC().Truncate(time.Microsecond)
		if _, err := s.exec(ctx, tx, s.q(`UPDATE `+table(kind)+` SET name = ?, name_lower = ?, external_id = ?, display_name = ?,
			email_lower = ?, active = ?, doc = `+s.d.doc()+`, modified_us = ?, version = ? WHERE org = ? AND id = ?`),
			next.Name, strings.ToLower(next.Name), nullString(next.ExternalID), nullString(next.DisplayName), nullString(strings.ToLower(next.Email)),
			s.d.columnBool(next.Active), string(next.Doc), next.Modified.UnixMicro(), next.Version, org, id); err != nil {
			if s.d.isUniqueViolation(err) {
				return store.ErrUniqueness
			}
			return fmt.Errorf("updating %s %s: %w", kind, id, err)
		}
		if err := s.applyMemberChange(ctx, tx, w, org, id, current, next, change.Members); err != nil {
			return err
		}
		if kind == store.KindUser && (next.DisplayName != current.DisplayName || next.Name != current.Name) {
			if err := s.refreshMemberDisplay(ctx, tx, org, next); err != nil {
				return err
			}
		}
		result = next
		var ev lifecycle.Event
		if kind == store.KindUser {
			ev = userEvent(current, next)
		}
		return s.effects(ctx, tx, w, org, id, next, ev)
	})
	return result, err
}

// Delete removes a resource and every membership naming it.
func (s *Store) Delete(ctx context.Context, org string, kind store.Kind, id string, ifVersion int64, w store.Write) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		current, err := s.get(ctx, tx, org, kind, id, s.d.forUpdate())
		if err != nil {
			return err
		}
		if ifVersion > 0 && current.Version != ifVersion {
			return store.ErrVersionMismatch
		}
		var affected []string
		if kind == store.KindGroup && groupRoles(w) {
			if affected, err = s.groupMemberIDs(ctx, tx, org, id); err != nil {
				return err
			}
		}
		if _, err := s.exec(ctx, tx, s.q(`DELETE FROM `+table(kind)+` WHERE org = ? AND id = ?`), org, id); err != nil {
			return fmt.Errorf("deleting %s %s: %w", kind, id, err)
		}
		if _, err := s.exec(ctx, tx, s.q(`DELETE FROM scim_group_members WHERE org = ? AND (member_id = ? OR group_id = ?)`), org, id, id); err != nil {
			return fmt.Errorf("deleting memberships of %s: %w", id, err)
		}
		if len(affected) > 0 {
			if err := s.refreshRoles(ctx, tx, *w.Policy, org, affected, requestIDOf(w)); err != nil {
				return err
			}
		}
		var ev lifecycle.Event
		if kind == store.KindUser {
			ev = lifecycle.EventDeleted
		}
		return s.effects(ctx, tx, w, org, id, nil, ev)
	})
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.committer != nil {
		return s.committer.do(ctx, fn)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning a transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

func requestIDOf(w store.Write) string {
	if w.Audit != nil {
		return w.Audit.RequestID
	}
	return ""
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// userEvent is the lifecycle event of an update: a change of active, or a profile update.
func userEvent(current, next *store.Resource) lifecycle.Event {
	switch {
	case current.Active && !next.Active:
		return lifecycle.EventDeactivated
	case !current.Active && next.Active:
		return lifecycle.EventReactivated
	}
	return lifecycle.EventUpdated
}

// applyMemberChange applies a group's member change and, under group role mappings, recomputes
// the roles of everyone whose groups changed (members added, removed or replaced, or all of them
// when the group was renamed).
func (s *Store) applyMemberChange(ctx context.Context, tx *sql.Tx, w store.Write, org, id string, current, next *store.Resource,
	c *store.MemberChange) error {
	roles := next.Kind == store.KindGroup && groupRoles(w)
	renamed := next.Name != current.Name
	var affected []string
	if roles && (renamed || c != nil && c.Replace) {
		before, err := s.groupMemberIDs(ctx, tx, org, id)
		if err != nil {
			return err
		}
		affected = before
	}
	if c != nil {
		if err := s.changeMembers(ctx, tx, org, id, c); err != nil {
			return err
		}
		affected = append(append(affected, c.Add...), c.Remove...)
	}
	if !roles {
		return nil
	}
	if renamed {
		after, err := s.groupMemberIDs(ctx, tx, org, id)
		if err != nil {
			return err
		}
		affected = append(affected, after...)
	}
	return s.refreshRoles(ctx, tx, *w.Policy, org, dedupe(affected), requestIDOf(w))
}
