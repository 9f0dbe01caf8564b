package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

var eventColumns = []string{"org", "seq", "id", "type", "subject", "group_id", "from_state", "to_state", "role", "previous_role", "cause",
	"request_id", "actor", "at_us", "data"}

// Append records a write's events: the real ones in the outbox under the organization's next
// sequence numbers, and those with an audit action in the audit log.
//
// The sequence row is updated last in the write, and stays locked until the write commits, so an
// organization's events commit in sequence order and a reader following the sequence misses none.
func (p provisioningTx) Append(ctx context.Context, org string, o provisioning.Origin, events []provisioning.Event) error {
	real := 0
	for _, e := range events {
		if !e.DryRun {
			real++
		}
	}
	if p.s.numberer != nil && real > 0 {
		return p.appendUnnumbered(ctx, org, o, events)
	}
	if err := p.auditEvents(ctx, org, o, events); err != nil {
		return err
	}
	if real == 0 {
		return nil
	}
	var last int64
	if err := p.s.queryRow(ctx, p.tx, p.s.q(`INSERT INTO event_sequences (org, last) VALUES (?, ?)
		ON CONFLICT (org) DO UPDATE SET last = event_sequences.last + excluded.last RETURNING last`), org, real).Scan(&last); err != nil {
		return fmt.Errorf("numbering events of %s: %w", org, err)
	}
	seq := last - int64(real)
	const perStatement = 50
	rows := make([]string, 0, perStatement)
	args := make([]any, 0, perStatement*len(eventColumns))
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		err := p.exec(ctx, `INSERT INTO provisioning_events (`+strings.Join(eventColumns, ", ")+`) VALUES `+strings.Join(rows, ", "), args...)
		rows, args = rows[:0], args[:0]
		if err != nil {
			return fmt.Errorf("recording events of %s: %w", org, err)
		}
		return nil
	}
	snapshots := newSnapshots(p, org)
	if err := snapshots.prefetch(ctx, events); err != nil {
		return err
	}
	for _, e := range events {
		if e.DryRun {
			continue
		}
		seq++
		data, err := snapshots.data(ctx, e)
		if err != nil {
			return err
		}
		rows = append(rows, "("+inList(len(eventColumns))+")")
		args = append(args, org, seq, newEventID(), string(e.Type), e.Subject, nullString(e.Group), nullString(string(e.From)),
			nullString(string(e.To)), nullString(e.Role), nullString(e.PreviousRole), nullString(string(e.Trigger)), nullString(o.RequestID),
			nullString(o.Actor), o.Time.UnixMicro(), data)
		if len(rows) == perStatement {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// auditEvents records the audit rows of the events that have an audit action.
func (p provisioningTx) auditEvents(ctx context.Context, org string, o provisioning.Origin, events []provisioning.Event) error {
	for _, e := range events {
		action := e.AuditAction()
		if action == "" {
			continue
		}
		resourceType := "Member"
		if strings.HasPrefix(string(e.Type), "group.") {
			resourceType = "Group"
		}
		if err := p.write(ctx, auditWrite(store.AuditEvent{Org: org, Time: o.Time, RequestID: o.RequestID, Action: action,
			ResourceType: resourceType, ResourceID: e.Subject, Status: 200, Detail: e.Detail})); err != nil {
			return fmt.Errorf("recording audit event: %w", err)
		}
	}
	return nil
}

// unnumberedColumns and unnumberedRow are the columns and one typed VALUES row of an event
// inserted without its sequence number (typed: VALUES in FROM has no target to infer them from).
var unnumberedColumns, unnumberedRow = func() (string, string) {
	var columns, row []string
	for _, c := range eventColumns {
		if c == "seq" {
			continue
		}
		columns = append(columns, c)
		if c == "at_us" {
			row = append(row, "?::bigint")
		} else {
			row = append(row, "?::text")
		}
	}
	return strings.Join(columns, ", "), "(" + strings.Join(row, ", ") + ")"
}()

// appendUnnumbered inserts events for the numberer (PostgreSQL): positions come from the global
// sequence as the rows are inserted, sequence numbers after commit (numbering.go). The statement
// asks for the transaction's id before it takes a position, which the numberer's gap rule needs.
// It carries the write's held statements (pending_writes.go).
func (p provisioningTx) appendUnnumbered(ctx context.Context, org string, o provisioning.Origin, events []provisioning.Event) error {
	if p.w == nil {
		p.w = &pendingWrites{}
	}
	// Snapshots first: their reads send the write's held statements. The audit rows are then held
	// and go with the first events statement.
	snapshots := newSnapshots(p, org)
	if err := snapshots.prefetch(ctx, events); err != nil {
		return err
	}
	data := make([]string, len(events))
	for i, e := range events {
		if e.DryRun {
			continue
		}
		var err error
		if data[i], err = snapshots.data(ctx, e); err != nil {
			return err
		}
	}
	if h := afterSnapshotsRead.Swap(nil); h != nil {
		(*h)()
	}
	if err := p.auditEvents(ctx, org, o, events); err != nil {
		return err
	}
	const perStatement = 50
	rows := make([]string, 0, perStatement)
	args := make([]any, 0, perStatement*(len(eventColumns)-1))
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		from := "x"
		if p.speculation != nil && p.speculation.eventsAfter != "" {
			from += ", " + p.speculation.eventsAfter // one row: runs it, and any wait of it, first
		}
		insert := `INSERT INTO provisioning_event_rows (` + unnumberedColumns + `) SELECT v.* FROM ` + from + `, (VALUES ` + strings.Join(rows, ", ") +
			`) AS v WHERE x.xid IS NOT NULL`
		if p.speculation != nil { // held: the write's one statement defines x (createInOneStatement)
			p.w.stmts = append(p.w.stmts, insert)
			p.w.args = append(p.w.args, args...)
			rows, args = rows[:0], args[:0]
			return nil
		}
		query, held := p.w.take(`x AS MATERIALIZED (SELECT pg_current_xact_id() AS xid)`, insert)
		_, err := p.s.exec(holdUntilNext(ctx), p.tx, p.s.q(query), append(held, args...)...) // goes with the COMMIT, or the next statement
		rows, args = rows[:0], args[:0]
		if err != nil {
			return fmt.Errorf("recording events of %s: %w", org, err)
		}
		return nil
	}
	for i, e := range events {
		if e.DryRun {
			continue
		}
		rows = append(rows, unnumberedRow)
		args = append(args, org, newEventID(), string(e.Type), e.Subject, nullString(e.Group), nullString(string(e.From)),
			nullString(string(e.To)), nullString(e.Role), nullString(e.PreviousRole), nullString(string(e.Trigger)), nullString(o.RequestID),
			nullString(o.Actor), o.Time.UnixMicro(), data[i])
		if len(rows) == perStatement {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// eventsPage reads a page of an organization's events after a sequence number.
const eventsPage = `SELECT seq, COALESCE(id, ''), type, subject, COALESCE(group_id, ''), COALESCE(from_state, ''), COALESCE(to_state, ''),
		COALESCE(role, ''), COALESCE(previous_role, ''), COALESCE(cause, ''), COALESCE(request_id, ''), COALESCE(actor, ''), at_us,
		COALESCE(data, '') FROM provisioning_events WHERE org = ? AND seq > ? ORDER BY seq LIMIT ?`

// eventsPageBySize is eventsPage on PostgreSQL: the server sends only the events that start
// within maxEventPageBytes of snapshots (and the one that starts the next page), not all the
// limit's, which the client would read to the end of the result after the page is full. The
// running sum is of the stored sizes (octet_length reads a TOASTed value's size without
// decompressing it), so the rows past the cut are neither sent nor decoded.
const eventsPageBySize = `SELECT seq, id, type, subject, group_id, from_state, to_state, role, previous_role, cause, request_id, actor, at_us, data
	FROM (SELECT seq, COALESCE(id, '') AS id, type, subject, COALESCE(group_id, '') AS group_id, COALESCE(from_state, '') AS from_state,
		COALESCE(to_state, '') AS to_state, COALESCE(role, '') AS role, COALESCE(previous_role, '') AS previous_role,
		COALESCE(cause, '') AS cause, COALESCE(request_id, '') AS request_id, COALESCE(actor, '') AS actor, at_us,
		COALESCE(data, '') AS data,
		SUM(COALESCE(octet_length(data), 0)) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) - COALESCE(octet_length(data), 0) AS before
		FROM provisioning_events WHERE org = ? AND seq > ? ORDER BY seq LIMIT ?) page
	WHERE before <= ` + maxEventPageBytesText + ` ORDER BY seq`

// eventsPageQuery is the page's statement for the store's dialect.
func (s *Store) eventsPageQuery() string {
	if s.d.name() == "postgres" {
		return eventsPageBySize
	}
	return eventsPage
}

// Events pages through an organization's events in sequence order. On PostgreSQL it first
// numbers the events committed before the call (numbering.go).
func (s *Store) Events(ctx context.Context, org string, after int64, limit int) ([]store.EventRecord, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if s.numberer != nil {
		if err := s.numberer.catchUp(ctx); err != nil {
			return nil, err
		}
	}
	var out []store.EventRecord
	size := 0
	err := s.eachRow(ctx, s.eventsPageQuery(), []any{org, after, limit},
		func(scan func(...any) error) error {
			var (
				r                            store.EventRecord
				typ, from, to, trigger, data string
				at                           int64
			)
			if err := scan(&r.Seq, &r.ID, &typ, &r.Event.Subject, &r.Event.Group, &from, &to, &r.Event.Role, &r.Event.PreviousRole, &trigger,
				&r.RequestID, &r.Actor, &at, &data); err != nil {
				return err
			}
			r.Event.Type, r.Event.From, r.Event.To = provisioning.EventType(typ), provisioning.State(from), provisioning.State(to)
			r.Event.Trigger, r.Time = provisioning.Trigger(trigger), time.UnixMicro(at).UTC()
			if size += len(data); len(out) > 0 && size > maxEventPageBytes {
				return errPageFull // this one starts the next page
			}
			r.DataSize = len(data)
			if data != "" {
				if err := json.Unmarshal([]byte(data), &r.Data); err != nil {
					return fmt.Errorf("event %d: %w", r.Seq, err)
				}
			}
			out = append(out, r)
			return nil
		})
	if err != nil && !errors.Is(err, errPageFull) {
		return nil, fmt.Errorf("reading events of %s: %w", org, err)
	}
	return out, nil
}

// maxEventPageBytes bounds a page of events by their snapshots' size, whatever its count: a
// member in thousands of groups has an event of hundreds of kilobytes, and a page of 500 of
// them, decoded, would take a manager's memory. A page always has at least one event.
const maxEventPageBytes = 1 << 20

// maxEventPageBytesText is maxEventPageBytes in SQL.
const maxEventPageBytesText = "1048576"

var errPageFull = errors.New("the page is full")

// PruneEvents deletes an organization's events older than before, from the oldest number on,
// up to the first event that is not: an event's time is its request's, and a write that started
// later can commit, and be numbered, earlier. Deleted by time alone, an event numbered before an
// older one would be kept behind a hole in the stream, which readers and deliverers count as
// events lost; deleted by the newest old event's number, an event of a fast clock's replica would
// take younger ones with it. An old event numbered after a younger one waits for it. Events go in
// transactions of at most pruneChunk, oldest first (prune.go).
func (s *Store) PruneEvents(ctx context.Context, org string, before time.Time) (int64, error) {
	// Read apart from the deletes (on SQLite a reader, not the writer everyone waits for), in one
	// statement (one snapshot): the number before the first young event, walking the events in
	// number order (it passes only events this pass deletes), or when every event is old the
	// newest number now. Events numbered later (written while the pass runs: its transactions
	// give writes turns) are young, and stay.
	query := `SELECT COALESCE((SELECT seq - 1 FROM provisioning_events WHERE org = ? AND +at_us >= ? ORDER BY seq LIMIT 1),
		(SELECT MAX(seq) FROM provisioning_events WHERE org = ?), 0)` // +: by number, not by time
	if s.numberer != nil {
		query = `SELECT COALESCE((SELECT n.seq - 1 FROM event_numbers n WHERE n.org = ?
				AND (SELECT r.at_us FROM provisioning_event_rows r WHERE r.position = n.position) >= ? ORDER BY n.seq LIMIT 1),
			(SELECT MAX(seq) FROM event_numbers WHERE org = ?), 0)`
	}
	var newest int64 // the last event to delete
	if err := s.queryRow(ctx, nil, s.q(query), org, before.UnixMicro(), org).Scan(&newest); err != nil {
		return 0, fmt.Errorf("reading the events of %s to prune: %w", org, err)
	}
	// Dead letters go with the events they name (and any older than the retention): kept, they
	// would only grow, and replaying them would rewind to events no longer there.
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, s.q(`DELETE FROM dead_letters WHERE org = ? AND (at_us < ? OR seq <= ?)`),
			org, before.UnixMicro(), newest); err != nil {
			return fmt.Errorf("pruning the dead letters of %s: %w", org, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if s.numberer == nil {
		return s.pruneInChunks(ctx, func(tx *sql.Tx, limit int) (int64, error) {
			res, err := s.exec(ctx, tx, s.q(`DELETE FROM provisioning_events WHERE org = ? AND seq IN
				(SELECT seq FROM provisioning_events WHERE org = ? AND seq <= ? ORDER BY seq LIMIT ?)`), org, org, newest, limit)
			if err != nil {
				return 0, fmt.Errorf("pruning the events of %s: %w", org, err)
			}
			return res.RowsAffected()
		})
	}
	var numbersDeleted int64
	// PostgreSQL: the events' rows and their numbers (numbering.go), by number, then any that old
	// left without a number (a numberer never reached them: not in the stream). No numbering
	// lock: events this old were numbered long ago. Should a stalled numberer number one while it
	// goes, the number is left without its event, unseen (the view joins both) and harmless: the
	// organization's numbers only grow.
	_, err = s.pruneInChunks(ctx, func(tx *sql.Tx, limit int) (int64, error) {
		// Counted by the numbers taken, so a number left without its event does not end the
		// pass early; the events deleted are what the pass reports.
		var taken, deleted int64
		err := s.queryRow(ctx, tx, `WITH k AS (SELECT position FROM event_numbers WHERE org = $1 AND seq <= $2 ORDER BY seq LIMIT $3),
				d AS (DELETE FROM provisioning_event_rows WHERE org = $1 AND position IN (SELECT position FROM k) RETURNING position),
				n AS (DELETE FROM event_numbers WHERE org = $1 AND position IN (SELECT position FROM k))
			SELECT (SELECT COUNT(*) FROM k), (SELECT COUNT(*) FROM d)`, org, newest, limit).Scan(&taken, &deleted)
		if err != nil {
			return 0, fmt.Errorf("pruning the events of %s: %w", org, err)
		}
		numbersDeleted += deleted
		return taken, nil
	})
	if err != nil {
		return numbersDeleted, err
	}
	unnumbered, err := s.pruneInChunks(ctx, func(tx *sql.Tx, limit int) (int64, error) {
		var k int64
		err := s.queryRow(ctx, tx, `WITH d AS (DELETE FROM provisioning_event_rows WHERE org = $1 AND position IN
					(SELECT position FROM provisioning_event_rows r WHERE org = $1 AND at_us < $2
						AND NOT EXISTS (SELECT 1 FROM event_numbers n WHERE n.position = r.position) LIMIT $3) RETURNING position),
				n AS (DELETE FROM event_numbers WHERE org = $1 AND position IN (SELECT position FROM d))
			SELECT COUNT(*) FROM d`, org, before.UnixMicro(), limit).Scan(&k)
		if err != nil {
			return 0, fmt.Errorf("pruning the events of %s: %w", org, err)
		}
		return k, nil
	})
	return numbersDeleted + unnumbered, err
}

// newEventID is a random, URL-safe event id ("evt_" and 26 base32 characters: 128 bits).
func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "evt_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// column reads a one-column result inside a transaction.
func (s *Store) column(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
