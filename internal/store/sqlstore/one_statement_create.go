package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// A user's create on PostgreSQL is one statement, in one round trip, when the answers it asks the
// database for are the usual ones: no member outside SCIM holds its userName (no takeover) and
// nothing is left under its new id. Provisioning runs on those answers with every statement held
// (pending_writes.go), and the INSERT, the member, its record, history, audit rows and events go
// as one statement outside an explicit transaction: no BEGIN, no COMMIT, and no round trip for
// the questions, where a create took four. The statement checks the answers itself, in the
// snapshot its writes are made in, and fails when one differs: then nothing of it is written,
// and the create runs again the usual way (Store.Create), which reads the real answers.
//
// Anything else that needs the database before the end (a read the write did not predict, a
// second update of a table) gives the speculation up the same way, before anything is sent.

// errSpeculation: the write needs an answer from the database before its end.
var errSpeculation = errors.New("the write needs the database before its end")

// speculation is what a write made in one statement assumed, as a SQL condition and its arguments.
type speculation struct {
	assumed string
	args    []any
	built   int64 // snapshots built from the write (builtFromWrites, once it lands)
	// eventsAfter names the WITH query (with RETURNING) the events' INSERT reads, so that it runs
	// first: PostgreSQL runs a statement's data-modifying WITH queries in no promised order (in
	// fact last to first), and the INSERT that may wait for a lock must not run after the events
	// took their positions (decision 0013's gap rule, decision 0015).
	eventsAfter string
}

// oneStatementCreates counts creates made in one statement, and speculationsGivenUp those that
// ran again the usual way; oneStatementsSent counts the one statements sent, whatever their
// outcome (tests check the path is taken).
var oneStatementCreates, speculationsGivenUp, oneStatementsSent atomic.Int64

// createInOneStatement makes the create of user r in one statement; done is false when it must
// run the usual way instead (nothing was written).
func (s *Store) createInOneStatement(ctx context.Context, r *store.Resource, w store.Write) (done bool, err error) {
	if readBackSnapshots.Load() {
		return false, nil
	}
	insert, args := s.insertStatement(r)
	// The user's INSERT is the first held statement, w0: the only one that can wait for another
	// write (on the userName's unique index); the member's and record's rows are under a new id.
	// It assumes the organization is bound as the write says, too (its fence, land).
	spec := &speculation{assumed: bindingHeld, args: bindingArgs(r.Org, w.Binding), eventsAfter: "w0"}
	if w.Policy != nil {
		spec.assumed += ` AND (SELECT COUNT(*) FROM ` + foreignMembers + `) = 0
			AND NOT EXISTS (SELECT 1 FROM members WHERE org = ? AND user_id = ?)
			AND NOT EXISTS (SELECT 1 FROM employee_records WHERE org = ? AND user_id = ?)`
		spec.args = append(spec.args, r.Org, strings.ToLower(r.Name), r.Org, r.ID, r.Org, r.ID)
	}
	p := s.newProvisioningTx(nil)
	p.speculation = spec
	p.ahead = &readAhead{org: r.Org, userNameLower: strings.ToLower(r.Name), hasForeign: true, user: r}
	if err := p.write(ctx, heldWrite{table: table(r.Kind), inserts: true, query: insert + ` RETURNING 1`, args: args}); err != nil {
		return false, nil //nolint:nilerr // only errSpeculation: go the usual way
	}
	if err := s.effectsOn(ctx, p, w, r.Org, r.ID, func(ptx provisioning.Tx, o provisioning.Origin) error {
		return provisioning.UserWritten(ctx, ptx, *w.Policy, provisioning.UserWrite{Org: r.Org, UserID: r.ID, After: userAfter(r, p.ahead), Origin: o})
	}); err != nil {
		// A decision made on assumed answers is not the write's: the usual way makes it again.
		speculationsGivenUp.Add(1)
		return false, nil //nolint:nilerr // see above
	}
	// The answers are checked in x, which the numberer's gap rule also needs first (appendUnnumbered).
	x := `x AS MATERIALIZED (SELECT pg_current_xact_id() AS xid, 1 / (CASE WHEN ` + spec.assumed + ` THEN 1 ELSE 0 END) AS ok)`
	err = s.land(ctx, p, x, fenceLockSQL, r.Org)
	switch {
	case err == nil:
		oneStatementCreates.Add(1)
		return true, nil
	case s.d.isUniqueViolation(err):
		return true, store.ErrUniqueness
	case assumptionFailed(err) || s.d.isRetryable(err):
		speculationsGivenUp.Add(1)
		return false, nil
	}
	return true, fmt.Errorf("inserting %s: %w", r.Kind, err)
}

// land sends a speculation's one statement: the WITH queries in with, whose x checks what it
// assumed, then its held statements; the statement's error as it is. lead, the organization's
// fence lock (with the member's lock for an update), goes first, in the same pipeline and
// implicit transaction (fence.go): it is taken before
// any of the statement's locks and held until its commit, and the statement, whose snapshot is
// taken after it, checks the binding in x (bindingHeld). A write refused there runs again the usual
// way, whose fence answers ErrOrganizationReleased.
func (s *Store) land(ctx context.Context, p provisioningTx, with, lead string, leadArgs ...any) error {
	query, held := p.w.take(with, `SELECT ok FROM x`)
	start := time.Now()
	ctx = afterLead(ctx, lead, leadArgs...)
	oneStatementsSent.Add(1)
	if err := s.execOutsideTx(ctx, s.q(query), append(p.speculation.args, held...)...); err != nil {
		return err
	}
	observeCommit(start, 1, nil) // a refused statement is the write's error, as inside a transaction
	builtFromWrites.Add(p.speculation.built)
	return nil
}

// assumptionFailed reports the statement's check failing: its division by zero.
func assumptionFailed(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "22012"
}
