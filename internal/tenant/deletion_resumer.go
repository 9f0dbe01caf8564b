package tenant

import (
	"context"
	"time"

	"github.com/go-logr/logr"
)

// An organization's data is deleted a part at a time, after its binding is marked as being
// deleted (store.DeleteOrganization). The controller that started a deletion may not call it
// again when it stops half-way (the manager ended, the database failed, and by the next pass the
// finalizer decides otherwise or is gone): the organization would stay half-deleted, refused to
// writes and to every binding. The leader finishes such deletions.

// Deletions finishes organizations' deletions (the store).
type Deletions interface {
	OrganizationsBeingDeleted(ctx context.Context, limit int) ([]string, error)
	FinishOrganizationDeletion(ctx context.Context, org string) (finished bool, err error)
}

// DeletionResumer finishes, on the leader, deletions of organizations' data that stopped.
type DeletionResumer struct {
	Store Deletions
	// Interval between looks (default 1 minute). A deletion under way in this process when it
	// looks is left to its caller (the store says so), so a look finishes only the ones that
	// stopped.
	Interval time.Duration
	Log      logr.Logger

	// failed is when deletions that failed are tried again (only the Start goroutine uses it),
	// so that a few failing ones do not keep the others from their turn.
	failed map[string]time.Time
}

// listedDeletions is how many marked organizations a look lists; retryFailedAfter how long one
// whose deletion failed waits.
const (
	listedDeletions  = 1000
	retryFailedAfter = 10 * time.Minute
)

// NeedLeaderElection is true: the leader runs the controllers that start deletions.
func (d *DeletionResumer) NeedLeaderElection() bool { return true }

// Start looks until ctx ends.
func (d *DeletionResumer) Start(ctx context.Context) error {
	interval := d.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	for {
		d.Resume(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// Resume finishes the deletions that are marked and not under way in this process.
func (d *DeletionResumer) Resume(ctx context.Context) {
	orgs, err := d.Store.OrganizationsBeingDeleted(ctx, listedDeletions)
	if err != nil {
		d.Log.Error(err, "Listing organizations being deleted")
		return
	}
	failed := make(map[string]time.Time, len(d.failed))
	for _, org := range orgs {
		if at, ok := d.failed[org]; ok {
			failed[org] = at // still marked: kept
		}
	}
	d.failed = failed
	for _, org := range orgs {
		if ctx.Err() != nil {
			return
		}
		if time.Now().Before(d.failed[org]) {
			continue
		}
		finished, err := d.Store.FinishOrganizationDeletion(ctx, org)
		switch {
		case err != nil:
			d.Log.Error(err, "Finishing the deletion of an organization's data", "organization", org)
			d.failed[org] = time.Now().Add(retryFailedAfter)
		case finished:
			d.Log.Info("Finished the deletion of an organization's data that had stopped", "organization", org)
		}
	}
}
