package provisioning

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrReleaseInDryRun: held deprovisionings are not released while the integration runs dry.
var ErrReleaseInDryRun = errors.New("held deprovisionings are released in Enforce mode only: in DryRun nothing would be applied")

// guard holds a deprovisioning when the organization already lost MaxDeprovisionsPerHour members
// in the last hour, or when earlier ones are held (so they are released in order). It returns the
// deprovision.held event when it held one.
//
// The count and the hold run under the organization's guard lock: without it, concurrent writers
// (or replicas) on PostgreSQL would each count below the limit and all deprovision.
func guard(ctx context.Context, tx Tx, p Policy, org, userID string, trigger Trigger, o Origin) (*Event, error) {
	if p.MaxDeprovisionsPerHour <= 0 || p.DryRun || !trigger.Deprovisions() {
		return nil, nil
	}
	if err := tx.LockGuard(ctx, org); err != nil {
		return nil, err
	}
	recent, err := tx.CountDeprovisionsSince(ctx, org, o.Time.Add(-time.Hour))
	if err != nil {
		return nil, err
	}
	held, err := tx.CountHeld(ctx, org)
	if err != nil {
		return nil, err
	}
	if recent < p.MaxDeprovisionsPerHour && held == 0 {
		return nil, nil
	}
	if err := tx.Hold(ctx, org, userID, trigger, o); err != nil {
		return nil, err
	}
	return &Event{Type: DeprovisionHeld, Subject: userID, Trigger: trigger,
		Detail: fmt.Sprintf("Held: %d members were deprovisioned in the last hour (maxPerHour %d)", recent, p.MaxDeprovisionsPerHour)}, nil
}

// Release applies the oldest held deprovisionings made up to through (a hold's sequence number),
// at most MembersPerTransaction of them, in order, under the policy without its guard, and says
// how many it took: the store calls it a transaction at a time until fewer come (on SQLite a
// transaction holds the one writer every organization shares, and an incident holds thousands).
// It applies exactly the holds it removes, so a hold made while it runs is either applied or stays.
// A deactivation whose user the identity provider has reactivated since is not applied: the
// provider will not send it again, and the member stayed active meanwhile. Nothing is released
// in dry run (ErrReleaseInDryRun): the holds would go and their deprovisionings not be applied.
func Release(ctx context.Context, tx Tx, p Policy, org string, through int64, o Origin) (int, error) {
	if p.DryRun {
		return 0, ErrReleaseInDryRun
	}
	if err := tx.LockGuard(ctx, org); err != nil {
		return 0, err
	}
	holds, err := tx.TakeHolds(ctx, org, through, MembersPerTransaction)
	if err != nil {
		return 0, err
	}
	p.MaxDeprovisionsPerHour = 0
	var events []Event
	for _, h := range holds {
		user, err := tx.LoadUser(ctx, org, h.UserID) // nil once deleted: the member keeps its profile
		if err != nil {
			return 0, err
		}
		if h.Trigger == UserDeactivated && user != nil && user.Active {
			events = append(events, Event{Type: DeprovisionReleased, Subject: h.UserID, Trigger: h.Trigger,
				Detail: "Not applied: the identity provider reactivated the user since"})
			continue
		}
		events = append(events, Event{Type: DeprovisionReleased, Subject: h.UserID, Trigger: h.Trigger})
		applied, err := decideMember(ctx, tx, p, org, h.UserID, user, h.Trigger, true, o)
		if err != nil {
			return 0, err
		}
		events = append(events, applied...)
	}
	return len(holds), tx.Append(ctx, org, o, events)
}
