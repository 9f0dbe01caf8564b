package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// refusalUpsert inserts an aggregated refusal, or adds its count to the row of the same key. The
// conflict target names the partial unique index of migration 0007 (the same syntax in SQLite
// and PostgreSQL). at_us moves to the latest refusal, so time-window queries (the ErrorBurst
// condition) see a refusal that is still going on.
var refusalUpsert = `INSERT INTO audit_events (` + strings.Join(auditColumns, ", ") + `, refusal_key) VALUES (` +
	inList(len(auditColumns)+1) + `) ON CONFLICT (org, refusal_key) WHERE refusal_key IS NOT NULL
	DO UPDATE SET event_count = audit_events.event_count + excluded.event_count, at_us = excluded.at_us`

// RecordRefusals adds aggregated refusals to their rows, in one transaction. Those whose binding
// is no longer their organization's are dropped, as RecordAudit's events.
func (s *Store) RecordRefusals(ctx context.Context, refusals []store.Refusal) error {
	if len(refusals) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		held, err := s.heldOrganizations(ctx, tx, pairsOf(len(refusals), func(i int) store.AuditEvent { return refusals[i].Event }))
		if err != nil {
			return err
		}
		for _, r := range refusals {
			if r.Key == "" || r.Event.Org == "" || !held[orgBinding{r.Event.Org, r.Event.Binding}] {
				continue
			}
			if _, err := s.exec(ctx, tx, s.q(refusalUpsert), append(auditValues(r.Event), store.Storable(r.Key))...); err != nil {
				return fmt.Errorf("recording refused requests: %w", err)
			}
		}
		return nil
	})
}

func (s *Store) insertAudit(ctx context.Context, tx *sql.Tx, e store.AuditEvent) error {
	w := auditWrite(e)
	if _, err := s.exec(ctx, tx, s.q(w.query), w.args...); err != nil {
		return fmt.Errorf("recording audit event: %w", err)
	}
	return nil
}

// auditInsert is the statement that records one audit event.
var (
	auditInsertPrefix = `INSERT INTO audit_events (` + strings.Join(auditColumns, ", ") + `) VALUES `
	auditInsert       = auditInsertPrefix + `(` + inList(len(auditColumns)) + `)`
)

// auditWrite records one audit event as a held write (pending_writes.go).
func auditWrite(e store.AuditEvent) heldWrite {
	return heldWrite{table: "audit_events", inserts: true, audit: true, query: auditInsert, args: auditValues(e)}
}

var auditColumns = []string{"org", "at_us", "request_id", "action", "client", "token_fingerprint", "method", "path",
	"resource_type", "resource_id", "status", "scim_type", "detail", "attributes", "event_count", "source"}

func auditValues(e store.AuditEvent) []any {
	e = e.Bounded() // whatever path an event came by, a row does not grow with a request
	var attrs sql.NullString
	if len(e.Attributes) > 0 {
		b, _ := json.Marshal(e.Attributes)
		attrs = sql.NullString{String: string(b), Valid: true}
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	return []any{e.Org, e.Time.UnixMicro(), e.RequestID, e.Action, nullString(e.Client), nullString(e.TokenFingerprint), nullString(e.Method),
		nullString(e.Path), nullString(e.ResourceType), nullString(e.ResourceID), e.Status, nullString(e.ScimType), nullString(e.Detail), attrs,
		max(e.Count, 1), nullString(e.Source)}
}

// RecordAudit appends audit events in one transaction, many rows per statement (the events of
// reads arrive in batches; one statement per event would cost a read much of its throughput).
// An event whose binding is no longer its organization's is dropped: its request was made just
// before the organization was deleted or re-bound, and its audit log went with the data.
func (s *Store) RecordAudit(ctx context.Context, events []store.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	const perStatement = 64
	return s.inTx(ctx, func(tx *sql.Tx) error {
		events, err := s.ofHeldOrganizations(ctx, tx, events)
		if err != nil {
			return err
		}
		for start := 0; start < len(events); start += perStatement {
			chunk := events[start:min(start+perStatement, len(events))]
			rows := make([]string, 0, len(chunk))
			args := make([]any, 0, len(chunk)*len(auditColumns))
			for _, e := range chunk {
				rows = append(rows, "("+inList(len(auditColumns))+")")
				args = append(args, auditValues(e)...)
			}
			query := `INSERT INTO audit_events (` + strings.Join(auditColumns, ", ") + `) VALUES ` + strings.Join(rows, ", ")
			if _, err := s.exec(ctx, tx, s.q(query), args...); err != nil {
				return fmt.Errorf("recording audit events: %w", err)
			}
		}
		return nil
	})
}

// AuditEvents pages through an organization's audit log, newest first.
func (s *Store) AuditEvents(ctx context.Context, org string, q store.AuditQuery) ([]store.AuditEvent, error) {
	if namesNothing(q.Action, q.ResourceID) {
		return nil, nil
	}
	query, args := auditSelect(org, q)
	var out []store.AuditEvent
	err := s.eachRow(ctx, query, args,
		func(scan func(...any) error) error {
			e := store.AuditEvent{Org: org}
			var at int64
			var attrs string
			if err := scan(&e.Seq, &at, &e.RequestID, &e.Action, &e.Client, &e.TokenFingerprint, &e.Method, &e.Path,
				&e.ResourceType, &e.ResourceID, &e.Status, &e.ScimType, &e.Detail, &attrs, &e.Count, &e.Source); err != nil {
				return err
			}
			e.Time = time.UnixMicro(at).UTC()
			if attrs != "" {
				_ = json.Unmarshal([]byte(attrs), &e.Attributes)
			}
			out = append(out, e)
			return nil
		})
	return out, err
}

// auditSelect is the statement (and its arguments) of an AuditEvents read: newest first, through
// the primary key (org, seq), or the failures' own index when only failures are wanted. With a
// window the filters apply to the organization's window newest events (failures) below the
// cursor, read in a subquery that stops there.
func auditSelect(org string, q store.AuditQuery) (string, []any) {
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	before := q.Before
	if before <= 0 {
		before = 1 << 62
	}
	inner, args := auditWalk(org, q.Failed, before)
	var filters []string
	var filterArgs []any
	if !q.Since.IsZero() {
		filters = append(filters, "at_us >= ?")
		filterArgs = append(filterArgs, q.Since.UnixMicro())
	}
	if !q.Until.IsZero() {
		filters = append(filters, "at_us < ?")
		filterArgs = append(filterArgs, q.Until.UnixMicro())
	}
	if q.Action != "" {
		filters = append(filters, "action = ?")
		filterArgs = append(filterArgs, q.Action)
	}
	if q.ResourceID != "" {
		filters = append(filters, "resource_id = ?")
		filterArgs = append(filterArgs, q.ResourceID)
	}
	if q.SCIMRequests {
		filters = append(filters, "path LIKE '/scim/%'")
	}
	if q.Succeeded {
		filters = append(filters, "status < 400")
	}
	if q.Authenticated {
		filters = append(filters, "COALESCE(token_fingerprint, '') <> ''")
	}
	const columns = `seq, at_us, request_id, action, COALESCE(client, ''), COALESCE(token_fingerprint, ''), COALESCE(method, ''),
		COALESCE(path, ''), COALESCE(resource_type, ''), COALESCE(resource_id, ''), status, COALESCE(scim_type, ''), COALESCE(detail, ''),
		COALESCE(attributes, ''), event_count, COALESCE(source, '')`
	if q.Window > 0 {
		where := "1 = 1"
		if len(filters) > 0 {
			where = strings.Join(filters, " AND ")
		}
		args = append(append(append(args, q.Window), filterArgs...), limit)
		return `SELECT ` + columns + ` FROM (SELECT * FROM audit_events WHERE ` + inner + ` ORDER BY seq DESC LIMIT ?) w
			WHERE ` + where + ` ORDER BY seq DESC LIMIT ?`, args
	}
	where := strings.Join(append([]string{inner}, filters...), " AND ")
	return `SELECT ` + columns + ` FROM audit_events WHERE ` + where + ` ORDER BY seq DESC LIMIT ?`, append(append(args, filterArgs...), limit)
}

// auditWalk is the part of an audit read's condition its index walks: the organization's events
// (failures) below the cursor.
func auditWalk(org string, failed bool, before int64) (string, []any) {
	if failed {
		return "org = ? AND seq < ? AND status >= 400", []any{org, before}
	}
	return "org = ? AND seq < ?", []any{org, before}
}

// AuditWindowEnd reads the oldest event of a windowed read's window (q.Window events, or
// failures, of the organization below q.Before); more is false when the window held fewer, so
// the read looked through the rest of the log.
func (s *Store) AuditWindowEnd(ctx context.Context, org string, q store.AuditQuery) (seq, atMicros int64, more bool, err error) {
	if q.Window <= 0 {
		return 0, 0, false, nil
	}
	before := q.Before
	if before <= 0 {
		before = 1 << 62
	}
	walk, args := auditWalk(org, q.Failed, before)
	// The window's end by its index alone (seq only: no row is read for the events skipped),
	// then that one event's time, in one statement (one snapshot).
	err = s.queryRow(ctx, nil, s.q(`SELECT seq, at_us FROM audit_events WHERE org = ? AND seq =
		(SELECT seq FROM audit_events WHERE `+walk+` ORDER BY seq DESC LIMIT 1 OFFSET ?)`),
		append(append([]any{org}, args...), q.Window-1)...).Scan(&seq, &atMicros)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("reading the audit log of %s: %w", org, err)
	}
	return seq, atMicros, true, nil
}

// ActivityMark reads the newest audit sequence number and time of the organization: one probe of
// each of the two audit indexes.
func (s *Store) ActivityMark(ctx context.Context, org string) (store.ActivityMark, error) {
	var mark store.ActivityMark
	if err := s.queryRow(ctx, nil, s.q(`SELECT COALESCE((SELECT MAX(seq) FROM audit_events WHERE org = ?), 0),
		COALESCE((SELECT MAX(at_us) FROM audit_events WHERE org = ?), 0)`), org, org).Scan(&mark.Seq, &mark.Time); err != nil {
		return mark, fmt.Errorf("reading the activity of %s: %w", org, err)
	}
	return mark, nil
}

// PruneAudit deletes an organization's audit events older than before, in transactions of at
// most pruneChunk rows (prune.go).
func (s *Store) PruneAudit(ctx context.Context, org string, before time.Time) (int64, error) {
	return s.pruneInChunks(ctx, func(tx *sql.Tx, limit int) (int64, error) {
		res, err := s.exec(ctx, tx, s.q(`DELETE FROM audit_events WHERE org = ? AND seq IN
			(SELECT seq FROM audit_events WHERE org = ? AND at_us < ? ORDER BY seq LIMIT ?)`), org, org, before.UnixMicro(), limit)
		if err != nil {
			return 0, fmt.Errorf("pruning the audit log of %s: %w", org, err)
		}
		return res.RowsAffected()
	})
}

// ofHeldOrganizations keeps the events whose bindings are their organizations', fenced for the rest
// of tx (fence.go).
func (s *Store) ofHeldOrganizations(ctx context.Context, tx *sql.Tx, events []store.AuditEvent) ([]store.AuditEvent, error) {
	pairs := pairsOf(len(events), func(i int) store.AuditEvent { return events[i] })
	held, err := s.heldOrganizations(ctx, tx, pairs)
	if err != nil || len(held) == len(pairs) {
		return events, err
	}
	kept := make([]store.AuditEvent, 0, len(events))
	for _, e := range events {
		if held[orgBinding{e.Org, e.Binding}] {
			kept = append(kept, e)
		}
	}
	return kept, nil
}

// pairsOf lists the distinct organizations and bindings of n events, in one order whatever the
// events' (by organization, then binding): batches fence their organizations in the same order, so
// two of them and two deletions cannot wait for each other in a cycle.
func pairsOf(n int, event func(int) store.AuditEvent) []orgBinding {
	seen := make(map[orgBinding]bool, n)
	var pairs []orgBinding
	for i := range n {
		e := event(i)
		if p := (orgBinding{e.Org, e.Binding}); !seen[p] {
			seen[p] = true
			pairs = append(pairs, p)
		}
	}
	slices.SortFunc(pairs, func(x, y orgBinding) int {
		return cmp.Or(strings.Compare(x.org, y.org), strings.Compare(x.b.Claim, y.b.Claim), strings.Compare(x.b.Integration, y.b.Integration))
	})
	return pairs
}
