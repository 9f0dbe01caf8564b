package provisioning

import (
	"context"
)

// UserWrite is a SCIM write to a user, as the store performed it.
type UserWrite struct {
	Org, UserID string
	// Before is the user before the write (nil: created), After the user after it (nil: deleted).
	Before, After *User
	// LeftGroups are the groups a deleted user was removed from.
	LeftGroups []string
	Origin     Origin
}

// UserWritten applies what a SCIM write to a user means for its member and employee record, and
// records the events, in the write's transaction.
func UserWritten(ctx context.Context, tx Tx, p Policy, w UserWrite) error {
	if w.Before == nil && w.After != nil {
		taken, err := tx.MemberNotFromSCIM(ctx, w.Org, w.After.UserName)
		if err != nil {
			return err
		}
		if taken {
			return ErrTakeover
		}
	}
	events, err := decideMember(ctx, tx, p, w.Org, w.UserID, w.After, triggerOf(w.Before, w.After), w.Before != nil, w.Origin)
	if err != nil {
		return err
	}
	return tx.Append(ctx, w.Org, w.Origin, leftGroupEvents(events, w.UserID, w.LeftGroups, nil))
}

// triggerOf names what a write did to a user: creation, deletion, a change of active, or an update.
func triggerOf(before, after *User) Trigger {
	switch {
	case after == nil:
		return UserDeleted
	case before == nil && after.Active:
		return UserCreated
	case before == nil || before.Active && !after.Active:
		return UserDeactivated
	case !before.Active && after.Active:
		return UserReactivated
	}
	return UserUpdated
}

// decideMember decides and stores a member's state after a trigger. user is the SCIM user after
// it (nil when deleted); existing says whether the user existed before (a new one has no member
// to read).
func decideMember(ctx context.Context, tx Tx, p Policy, org, userID string, user *User, trigger Trigger, existing bool,
	o Origin) ([]Event, error) {
	var (
		prev   *Member
		events []Event
		err    error
	)
	if existing {
		if prev, err = tx.LoadMember(ctx, org, userID); err != nil {
			return nil, err
		}
	}
	if prev == nil && trigger != UserCreated && trigger != UserDeactivated && !p.DryRun {
		// A user stored before members existed: it joins now, under the current policy.
		m, t := Decide(p, nil, UserCreated)
		if err := tx.AppendHistory(ctx, org, userID, *t, o); err != nil {
			return nil, err
		}
		events = append(events, t.Event(userID, m.Role))
		prev = &m
	}
	held, err := guard(ctx, tx, p, org, userID, trigger, o)
	if err != nil || held != nil {
		return append(events, derefAll(held)...), err
	}
	m, t := Decide(p, prev, trigger)
	if p.DryRun {
		// Only say what would happen.
		if t == nil {
			return events, nil
		}
		e := t.Event(userID, m.Role)
		e.DryRun, e.Detail = true, "Dry run, not applied: "+t.Reason
		return append(events, e), nil
	}
	userName := ""
	var profile *Profile
	if user != nil {
		userName, profile = user.UserName, &user.Profile
	}
	if err := tx.SaveMember(ctx, org, userID, userName, m); err != nil {
		return nil, err
	}
	if err := tx.SaveEmployee(ctx, org, userID, m.EmployeeActive, profile); err != nil {
		return nil, err
	}
	switch {
	case t != nil:
		if err := tx.AppendHistory(ctx, org, userID, *t, o); err != nil {
			return nil, err
		}
		events = append(events, t.Event(userID, m.Role))
	case trigger == UserUpdated:
		events = append(events, Event{Type: MemberUpdated, Subject: userID, Role: m.Role, Trigger: UserUpdated})
	}
	return events, nil
}

func derefAll(e *Event) []Event {
	if e == nil {
		return nil
	}
	return []Event{*e}
}
