// Package provisioning decides what a SCIM write means for the organization's members: state
// (auto-activation or review, suspension or deactivation, reactivation with the previous role),
// employee record, role from groups, the mass-deprovisioning guard and the refusal to take over a
// member SCIM did not create. It produces typed events for each decision.
//
// decide.go holds the decisions (pure functions); apply.go, guard.go, review.go and roles.go run
// them inside the store's transaction through the narrow Tx interface (tx.go). The store persists
// and holds no policy.
package provisioning

import "fmt"

// Transition is a change of member state.
type Transition struct {
	From, To State
	Type     EventType
	Trigger  Trigger
	// Reason is for people: the trigger and the policy that applied, e.g. "Deactivated: Suspend".
	Reason string
}

// Event is the transition as an event about the member.
func (t Transition) Event(userID, role string) Event {
	return Event{Type: t.Type, Subject: userID, From: t.From, To: t.To, Role: role, Trigger: t.Trigger, Detail: t.Reason}
}

// Decide returns the member after a trigger, and the state transition when there is one. prev is
// nil for a user the organization has never seen.
func Decide(p Policy, prev *Member, trigger Trigger) (Member, *Transition) {
	if prev == nil {
		m := Member{State: Active, Role: p.DefaultRole, EmployeeActive: true, Approved: true}
		if !p.AutoActivate {
			m.State, m.Approved = PendingReview, false
		}
		t := &Transition{To: m.State, Type: MemberProvisioned, Trigger: UserCreated, Reason: "Created"}
		if trigger == UserDeactivated { // created with active=false
			m = deprovision(m, p.OnDeactivate)
			t.To, t.Trigger, t.Reason = m.State, UserDeactivated, "Created inactive: "+string(p.OnDeactivate)
		}
		return m, t
	}
	m := *prev
	switch trigger {
	case UserDeactivated:
		m = deprovision(m, p.OnDeactivate)
		return m, transition(prev.State, m.State, trigger, fmt.Sprintf("Deactivated: %s", p.OnDeactivate))
	case UserDeleted:
		m = deprovision(m, p.OnDelete)
		m.Deleted = true
		return m, transition(prev.State, m.State, trigger, fmt.Sprintf("Deleted: %s", p.OnDelete))
	case UserReactivated:
		m.EmployeeActive = true
		m.Deleted = false
		switch prev.State {
		case Suspended, Deactivated:
			// The role is kept through deprovisioning, so reactivation restores it. A member
			// never approved goes back to review rather than past it.
			m.State = Active
			if !prev.Approved {
				m.State = PendingReview
			}
		}
		return m, transition(prev.State, m.State, trigger, "Reactivated")
	}
	return m, nil
}

func deprovision(m Member, a Action) Member {
	if m.State == PendingReview && a == Suspend {
		// Nothing to suspend yet; the review stays open.
		return m
	}
	switch a {
	case Deactivate:
		m.State, m.EmployeeActive = Deactivated, false
	default:
		m.State = Suspended
	}
	return m
}

// transition types a state change by where it leads and why.
func transition(from, to State, trigger Trigger, reason string) *Transition {
	if from == to {
		return nil
	}
	t := &Transition{From: from, To: to, Trigger: trigger, Reason: reason}
	switch {
	case trigger == AdminApproved:
		t.Type = MemberApproved
	case trigger == AdminRejected:
		t.Type = MemberRejected
	case to == Suspended:
		t.Type = MemberSuspended
	case to == Deactivated:
		t.Type = MemberDeactivated
	case to == PendingReview:
		t.Type = MemberPendingReview
	case to == Active && (from == Suspended || from == Deactivated):
		t.Type = MemberReactivated
	default:
		t.Type = MemberActivated
	}
	return t
}

// Approve and Reject are an admin's review decisions on a PendingReview member.
func Approve(m Member) (Member, *Transition) {
	if m.State != PendingReview {
		return m, nil
	}
	prev := m.State
	m.State, m.Approved = Active, true
	return m, transition(prev, m.State, AdminApproved, "Approved")
}

// Reject deactivates a member waiting for review.
func Reject(m Member) (Member, *Transition) {
	if m.State != PendingReview {
		return m, nil
	}
	prev := m.State
	m.State, m.EmployeeActive = Deactivated, false
	return m, transition(prev, m.State, AdminRejected, "Rejected")
}
