package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Delivery returns a subscription's state in an organization, starting it after the last event
// before from (the newest when from is zero).
func (s *Store) Delivery(ctx context.Context, subscription, org string, from time.Time) (*store.Delivery, error) {
	d := &store.Delivery{}
	if err := s.queryRow(ctx, nil, s.q(`SELECT COALESCE(MAX(last), 0) FROM event_sequences WHERE org = ?`), org).Scan(&d.LatestSeq); err != nil {
		return nil, fmt.Errorf("reading the newest event of %s: %w", org, err)
	}
	var (
		first, next, delivered, lostAt sql.NullInt64
		lastError                      sql.NullString
	)
	err := s.queryRow(ctx, nil, s.q(`SELECT delivered_seq, attempts, first_failure_us, next_attempt_us, last_delivered_us, last_error, lost, lost_us
		FROM event_deliveries WHERE subscription = ? AND org = ?`), subscription, org).
		Scan(&d.DeliveredSeq, &d.Attempts, &first, &next, &delivered, &lastError, &d.Lost, &lostAt)
	if errors.Is(err, sql.ErrNoRows) {
		// Where a new subscription starts depends on what is numbered: number first (PostgreSQL).
		// Afterwards the deliverer's Events call numbers, and LatestSeq only feeds the status.
		if s.numberer != nil {
			if err := s.numberer.catchUp(ctx); err != nil {
				return nil, err
			}
		}
		if h := beforeDeliveryStarts.Swap(nil); h != nil {
			(*h)()
		}
		if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.startDelivery(ctx, tx, subscription, org, from) }); err != nil {
			return nil, fmt.Errorf("starting delivery of %s to %s: %w", org, subscription, err)
		}
		return s.Delivery(ctx, subscription, org, from)
	}
	if err != nil {
		return nil, fmt.Errorf("reading delivery of %s to %s: %w", org, subscription, err)
	}
	d.FirstFailure, d.NextAttempt, d.LastDelivered, d.LastError = micros(first), micros(next), micros(delivered), lastError.String
	d.LostAt = micros(lostAt)
	var oldest sql.NullInt64
	err = s.queryRow(ctx, nil, s.q(oldestPending), org, d.DeliveredSeq).Scan(&oldest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("reading the oldest pending event of %s: %w", org, err)
	}
	d.OldestPending = micros(oldest)
	if err := s.queryRow(ctx, nil, s.q(`SELECT COUNT(*) FROM dead_letters WHERE subscription = ? AND org = ?`), subscription, org).
		Scan(&d.DeadLettered); err != nil {
		return nil, fmt.Errorf("counting dead letters of %s: %w", subscription, err)
	}
	return d, nil
}

// startDelivery records where a subscription's delivery of org starts: just before the first
// event at or after from (startAfter), or after the newest when from is zero. The start is read in the transaction that
// records it, behind the organization's fence (shared, as a write's): read before a deletion of
// the organization's data and recorded after it, it would skip the re-created organization's
// first events, numbered from 1 again.
func (s *Store) startDelivery(ctx context.Context, tx *sql.Tx, subscription, org string, from time.Time) error {
	if s.d.name() == "postgres" {
		if _, err := s.exec(ctx, tx, fenceLockSQL, org); err != nil {
			return err
		}
	}
	var start int64
	var err error
	if from.IsZero() {
		err = s.queryRow(ctx, tx, s.q(`SELECT COALESCE(MAX(last), 0) FROM event_sequences WHERE org = ?`), org).Scan(&start)
	} else {
		// Just before the first event at or after from, not after the last one before it: an
		// event's time is taken in its write and, on PostgreSQL, its number after its commit, so
		// an event written after from can be numbered before one written earlier (PruneEvents
		// reads by the same rule). Delivering an event of the moments before from is harmless;
		// skipping one after it is not. With none at or after from, after the last number: 0
		// would read the numbers given before a deletion of its data as events lost.
		err = s.queryRow(ctx, tx, s.q(s.startAfterQuery()), org, from.UnixMicro(), org).Scan(&start)
	}
	if err != nil {
		return fmt.Errorf("finding where delivery of %s starts: %w", org, err)
	}
	_, err = s.exec(ctx, tx, s.q(s.d.insertIgnore(`INSERT INTO event_deliveries (subscription, org, delivered_seq) VALUES (?, ?, ?)`)),
		subscription, org, start)
	return err
}

// startAfter is the number a subscription created at a time (its argument) starts after. MIN, not
// ORDER BY seq LIMIT 1: the events at or after the time are found by their time index (a few,
// for a subscription just created), not by walking the organization's numbers from its oldest.
const startAfter = `SELECT COALESCE((SELECT MIN(seq) - 1 FROM provisioning_events WHERE org = ? AND at_us >= ?),
	(SELECT MAX(last) FROM event_sequences WHERE org = ?), 0)`

// startAfterPostgres is startAfter on the tables behind the view: each event found by time looks
// its number up by position, where the view's join read all of the organization's numbers.
const startAfterPostgres = `SELECT COALESCE((SELECT MIN((SELECT n.seq FROM event_numbers n WHERE n.position = e.position)) - 1
		FROM provisioning_event_rows e WHERE e.org = ? AND e.at_us >= ?),
	(SELECT MAX(last) FROM event_sequences WHERE org = ?), 0)`

func (s *Store) startAfterQuery() string {
	if s.numberer != nil {
		return startAfterPostgres
	}
	return startAfter
}

// beforeDeliveryStarts, when set, runs once in the next Delivery that starts a subscription,
// before the transaction recording its start (tests).
var beforeDeliveryStarts atomic.Pointer[func()]

// oldestPending reads when the oldest event after a sequence number happened. ORDER BY … LIMIT 1,
// not MIN: on PostgreSQL the events are a view of two tables, where MIN and MAX are not answered
// from the end of an index.
const oldestPending = `SELECT at_us FROM provisioning_events WHERE org = ? AND seq > ? ORDER BY seq LIMIT 1`

// RecordDelivery records what became of event seq; a subscription never moves backwards. It
// records nothing unless the event is still seq, or was pruned (eventStillSeq): after a deletion
// of the organization's data, a deliverer's round over the old events must
// not move a subscription past the new ones.
func (s *Store) RecordDelivery(ctx context.Context, subscription, org string, seq int64, o store.DeliveryOutcome) error {
	at := o.At
	if at.IsZero() {
		at = time.Now()
	}
	now := at.UTC().UnixMicro()
	still := []any{org, seq, o.EventID, org, seq, seq, org}
	// where: the subscription is behind seq (never moves backwards), at From when given, and the
	// event is still seq.
	where, whereArgs := `subscription = ? AND org = ? AND delivered_seq < ? AND `+eventStillSeq, append([]any{subscription, org, seq}, still...)
	if o.From != nil {
		where, whereArgs = `delivered_seq = ? AND `+where, append([]any{*o.From}, whereArgs...)
	}
	// lost: events passed over that were pruned before they were delivered.
	lost, lostArgs := "", []any(nil)
	if o.Lost > 0 {
		lost, lostArgs = ", lost = lost + ?, lost_us = ?", []any{o.Lost, now}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			res sql.Result
			err error
		)
		switch o.Kind {
		case store.Delivered:
			res, err = s.exec(ctx, tx, s.q(`UPDATE event_deliveries SET delivered_seq = ?, attempts = 0, first_failure_us = NULL,
				next_attempt_us = NULL, last_delivered_us = ?, last_error = NULL`+lost+` WHERE `+where),
				append(append([]any{seq, now}, lostArgs...), whereArgs...)...)
		case store.Skipped: // passing an event ends any failure of the one before: its retry state goes
			res, err = s.exec(ctx, tx, s.q(`UPDATE event_deliveries SET delivered_seq = ?, attempts = 0, first_failure_us = NULL,
				next_attempt_us = NULL, last_error = NULL`+lost+` WHERE `+where), append(append([]any{seq}, lostArgs...), whereArgs...)...)
		case store.Failed:
			if o.Lost > 0 {
				// Pruned events before this one: the subscription passes over them to just before
				// it, and the retry state (theirs) starts anew with this failure, its own.
				res, err = s.exec(ctx, tx, s.q(`UPDATE event_deliveries SET delivered_seq = ?, attempts = 1, first_failure_us = ?,
					next_attempt_us = ?, last_error = ?`+lost+` WHERE `+where),
					append(append([]any{seq - 1, now, o.RetryAt.UnixMicro(), clip(o.Error)}, lostArgs...), whereArgs...)...)
				break
			}
			res, err = s.exec(ctx, tx, s.q(`UPDATE event_deliveries SET attempts = attempts + 1, first_failure_us = COALESCE(first_failure_us, ?),
				next_attempt_us = ?, last_error = ? WHERE `+where), append([]any{now, o.RetryAt.UnixMicro(), clip(o.Error)}, whereArgs...)...)
		case store.DeadLettered:
			// The letter is written only where the subscription then moves past the event: an
			// outcome of a round that a replay or another replica overtook leaves none.
			if _, err = s.exec(ctx, tx, s.q(s.d.insertIgnore(`INSERT INTO dead_letters (subscription, org, seq, event_id, type, attempts, last_error, at_us)
				SELECT subscription, org, ?, ?, ?, attempts, ?, ? FROM event_deliveries WHERE `+where)),
				append([]any{seq, o.EventID, o.Type, clip(o.Error), now}, whereArgs...)...); err != nil {
				return err
			}
			res, err = s.exec(ctx, tx, s.q(`UPDATE event_deliveries SET delivered_seq = ?, attempts = 0, first_failure_us = NULL,
				next_attempt_us = NULL, last_error = ?`+lost+` WHERE `+where), append(append([]any{seq, clip(o.Error)}, lostArgs...), whereArgs...)...)
		}
		if err != nil {
			return fmt.Errorf("recording delivery of event %d of %s to %s: %w", seq, org, subscription, err)
		}
		if res == nil {
			return fmt.Errorf("recording delivery of event %d of %s: unknown outcome %d", seq, org, o.Kind)
		}
		if n, _ := res.RowsAffected(); n == 0 && o.From != nil {
			return store.ErrDeliveryMoved
		}
		return nil
	})
}

// eventStillSeq is a condition on an organization, a sequence number and an event ID (its
// arguments, in RecordDelivery's still): the event numbered so in the organization is that one,
// or none is and the number is at most the organization's latest (the event was pruned since it
// was read). Events written
// before they had IDs match the empty ID.
const eventStillSeq = `(EXISTS (SELECT 1 FROM provisioning_events WHERE org = ? AND seq = ? AND COALESCE(id, '') = ?)
	OR NOT EXISTS (SELECT 1 FROM provisioning_events WHERE org = ? AND seq = ?)
		AND ? <= (SELECT COALESCE(MAX(last), 0) FROM event_sequences WHERE org = ?))`

// DeadLetters lists dead letters oldest first.
func (s *Store) DeadLetters(ctx context.Context, subscription, org string, limit int) ([]store.DeadLetter, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	var out []store.DeadLetter
	err := s.eachRow(ctx, `SELECT seq, event_id, type, attempts, COALESCE(last_error, ''), at_us FROM dead_letters
		WHERE subscription = ? AND org = ? ORDER BY seq LIMIT ?`, []any{subscription, org, limit}, func(scan func(...any) error) error {
		var d store.DeadLetter
		var at int64
		if err := scan(&d.Seq, &d.EventID, &d.Type, &d.Attempts, &d.Error, &at); err != nil {
			return err
		}
		d.Time = time.UnixMicro(at).UTC()
		out = append(out, d)
		return nil
	})
	return out, err
}

// Replay rewinds to just before the oldest dead letter and clears the dead letters.
func (s *Store) Replay(ctx context.Context, subscription, org string) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var oldest sql.NullInt64
		if err := s.queryRow(ctx, tx, s.q(`SELECT MIN(seq) FROM dead_letters WHERE subscription = ? AND org = ?`), subscription, org).
			Scan(&oldest); err != nil {
			return err
		}
		if !oldest.Valid {
			return nil
		}
		res, err := s.exec(ctx, tx, s.q(`DELETE FROM dead_letters WHERE subscription = ? AND org = ?`), subscription, org)
		if err != nil {
			return err
		}
		deleted, _ := res.RowsAffected()
		n = int(deleted)
		_, err = s.exec(ctx, tx, s.q(`UPDATE event_deliveries SET delivered_seq = ?, attempts = 0, first_failure_us = NULL, next_attempt_us = NULL
			WHERE subscription = ? AND org = ? AND delivered_seq >= ?`), oldest.Int64-1, subscription, org, oldest.Int64)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("replaying dead letters of %s to %s: %w", org, subscription, err)
	}
	return n, nil
}

// ForgetSubscription removes a subscription's state everywhere.
func (s *Store) ForgetSubscription(ctx context.Context, subscription string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, t := range []string{"event_deliveries", "dead_letters"} {
			if _, err := s.exec(ctx, tx, s.q(`DELETE FROM `+t+` WHERE subscription = ?`), subscription); err != nil {
				return fmt.Errorf("forgetting subscription %s: %w", subscription, err)
			}
		}
		return nil
	})
}

func micros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// clip bounds a delivery error as stored (valid UTF-8 without NUL, which PostgreSQL requires).
func clip(s string) string {
	return store.Storable(s[:min(len(s), 512)])
}

// DeliveryPositions reads every delivery's position beside its organization's newest event: one
// row per (subscription, organization).
func (s *Store) DeliveryPositions(ctx context.Context) ([]store.DeliveryPosition, error) {
	if s.numberer != nil {
		if err := s.numberer.catchUp(ctx); err != nil {
			return nil, err
		}
	}
	var out []store.DeliveryPosition
	err := s.eachRow(ctx, `SELECT d.subscription, d.org, d.delivered_seq, COALESCE(d.next_attempt_us, 0), COALESCE(n.last, 0)
		FROM event_deliveries d LEFT JOIN event_sequences n ON n.org = d.org`, nil, func(scan func(...any) error) error {
		var (
			p    store.DeliveryPosition
			next int64
		)
		if err := scan(&p.Subscription, &p.Org, &p.DeliveredSeq, &next, &p.LatestSeq); err != nil {
			return err
		}
		if next > 0 {
			p.NextAttempt = time.UnixMicro(next)
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the deliveries' positions: %w", err)
	}
	return out, nil
}
