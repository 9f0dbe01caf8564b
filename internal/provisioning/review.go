package provisioning

import "context"

// Review approves (or rejects) a member waiting for review. A member not waiting is left as it is.
// The member is locked first, so a SCIM write to it (a suspension) and the review apply one after
// the other: an approval never overwrites what the identity provider did meanwhile.
func Review(ctx context.Context, tx Tx, org, userID string, approve bool, o Origin) error {
	m, err := tx.LoadMember(ctx, org, userID)
	if err != nil {
		return err
	}
	if m == nil {
		return ErrNoMember
	}
	next, t := Approve(*m)
	if !approve {
		next, t = Reject(*m)
	}
	if t == nil {
		return nil
	}
	if approve {
		// A user the identity provider deactivated or deleted while the member waited (under
		// Suspend nothing was recorded: there was no access to suspend) is approved suspended,
		// not given access the provider took away; its reactivation makes it active.
		user, err := tx.LoadUser(ctx, org, userID)
		if err != nil {
			return err
		}
		if user == nil || !user.Active {
			next.State = Suspended
			t.To, t.Type, t.Reason = Suspended, MemberSuspended, "Approved; suspended: the identity provider has deactivated or deleted the user"
		}
	}
	if err := tx.SaveMember(ctx, org, userID, "", next); err != nil {
		return err
	}
	if err := tx.SaveEmployee(ctx, org, userID, next.EmployeeActive, nil); err != nil {
		return err
	}
	if err := tx.AppendHistory(ctx, org, userID, *t, o); err != nil {
		return err
	}
	return tx.Append(ctx, org, o, []Event{t.Event(userID, next.Role)})
}
