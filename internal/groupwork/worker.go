// Package groupwork does the work writes of large groups leave for later (store.GroupWork): the
// memberships of a deleted group to end, the roles of a renamed group's members to review. A
// write of a group of more than provisioning.MembersPerTransaction members leaves its members to
// the worker, so that no write of one organization holds the database as long as its group is
// large; the worker does them a transaction of that many at a time, organizations taking turns.
package groupwork

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Worker does deferred group work on the elected leader (one replica is enough; the store is
// shared, and a second one's transactions would only wait for the first's).
type Worker struct {
	Store    store.Store
	Registry *tenant.Registry
	// Interval between looks for work when none is left (default 2 s).
	Interval time.Duration
	Log      logr.Logger

	pending atomic.Int64
	oldest  atomic.Int64 // the oldest piece's time, Unix µs; 0 when none
	// failed is when pieces that failed may be tried again (only the Start goroutine uses it).
	failed map[store.GroupWork]time.Time
}

// Pending is how many pieces of work of the organizations this replica serves the last pass
// found (at most 1,000), for the eio_group_work_pending gauge; 0 on replicas that are not the
// leader.
func (w *Worker) Pending() int64 { return w.pending.Load() }

// OldestAge is how long the oldest of them has waited (0 when none), for
// eio_group_work_oldest_age_seconds.
func (w *Worker) OldestAge() time.Duration {
	since := w.oldest.Load()
	if since == 0 {
		return 0
	}
	return time.Since(time.UnixMicro(since))
}

// listed is how many pieces of work a pass looks at, at most listedPerOrganization of each
// organization; it takes a part of at most perOrganization of one organization's, so that one
// organization's many deleted groups do not keep another's waiting, and of perPass in all. A
// piece that failed rests for retryAfter, and the organization's next one takes its turn.
const (
	listed                = 1000
	listedPerOrganization = 8
	perOrganization       = 2
	perPass               = 100
	retryAfter            = time.Minute
)

// NeedLeaderElection is true: one replica does the work.
func (w *Worker) NeedLeaderElection() bool { return true }

// Start works until ctx ends. While work is left it rests as long as each pass took, so that
// deferred work takes at most about half of the store's time (on SQLite, of the one writer every
// organization's writes share); else it looks once per Interval.
func (w *Worker) Start(ctx context.Context) error {
	interval := w.Interval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	for {
		start := time.Now()
		wait := interval
		if w.Pass(ctx) {
			wait = time.Since(start)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Pass does the next part of each piece of pending work it takes, under its organization's
// binding and current policy, and reports whether any is left to do now. Work of an organization
// this replica does not serve waits (its binding decides who may write its data); work that
// failed waits for the next look.
func (w *Worker) Pass(ctx context.Context) bool {
	orgs := w.Registry.Organizations()
	served := make([]string, 0, len(orgs))
	for _, o := range orgs {
		served = append(served, o.Name)
	}
	pending, err := w.Store.PendingGroupWork(ctx, served, listedPerOrganization, listed)
	if err != nil {
		w.Log.Error(err, "Listing deferred group work")
		return false
	}
	w.pending.Store(int64(len(pending)))
	w.oldest.Store(0)
	if len(pending) > 0 {
		w.oldest.Store(pending[0].Since.UnixMicro())
	}
	w.forgetFailures(pending)
	taken := map[string]int{}
	done := 0
	more, progressed := false, false
	for _, work := range pending {
		if done == perPass || ctx.Err() != nil {
			return progressed
		}
		if taken[work.Org] == perOrganization {
			more = true
			continue
		}
		if time.Now().Before(w.failed[work]) {
			continue
		}
		org, served := w.Registry.Organization(work.Org)
		if !served {
			continue // set aside since it was listed
		}
		taken[work.Org]++
		done++
		policy := org.Policy
		left, err := w.Store.DoGroupWork(ctx, work, store.Write{Policy: &policy, Binding: org.Binding})
		switch {
		case errors.Is(err, store.ErrOrganizationReleased):
			// Deleted or bound elsewhere since the registry looked: its data's new owner decides.
		case err != nil:
			w.Log.Error(err, "Doing deferred group work", "organization", work.Org, "group", work.GroupID, "kind", work.Kind)
			w.failed[work] = time.Now().Add(retryAfter)
		case left:
			more, progressed = true, true
		default:
			progressed = true
			w.Log.V(1).Info("Deferred group work done", "organization", work.Org, "group", work.GroupID, "kind", work.Kind)
		}
	}
	return more && progressed
}

// forgetFailures keeps the failures of pieces still pending, so the map stays as small as a list.
func (w *Worker) forgetFailures(pending []store.GroupWork) {
	kept := make(map[store.GroupWork]time.Time, len(w.failed))
	for _, work := range pending {
		if at, ok := w.failed[work]; ok {
			kept[work] = at
		}
	}
	w.failed = kept
}
