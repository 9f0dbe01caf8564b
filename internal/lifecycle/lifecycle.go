// Package lifecycle decides what a SCIM write means for the organization's member (access, role,
// state) and employee record: auto-activation or review, deprovisioning by suspension or
// deactivation, reactivation with the previous role. It is pure — the store applies its decisions
// in the same transaction as the SCIM write.
package lifecycle

import "strings"

// State is a member's state.
type State string

// Member states.
const (
	Active        State = "Active"
	PendingReview State = "PendingReview"
	Suspended     State = "Suspended"
	Deactivated   State = "Deactivated"
)

// Action is what deprovisioning does.
type Action string

// Deprovisioning actions (ScimIntegration.spec.provisioning.deprovision).
const (
	Suspend    Action = "Suspend"
	Deactivate Action = "Deactivate"
)

// Policy is an organization's provisioning policy.
type Policy struct {
	// DryRun records decisions without applying them.
	DryRun       bool
	AutoActivate bool
	OnDeactivate Action
	OnDelete     Action
	DefaultRole  string
	// GroupRoles map groups to roles, first match first.
	GroupRoles []GroupRole
	// MaxDeprovisionsPerHour, when above zero, holds further deprovisionings once this many
	// happened in the last hour, until an admin releases them.
	MaxDeprovisionsPerHour int
}

// DefaultPolicy is the CRD's defaults.
var DefaultPolicy = Policy{AutoActivate: true, OnDeactivate: Suspend, OnDelete: Deactivate}

// Member is the product's view of a provisioned person.
type Member struct {
	State State
	Role  string
	// EmployeeActive says whether the employee record is active.
	EmployeeActive bool
	// Deleted is true once the IdP deleted the SCIM user; the member and record remain.
	Deleted bool
	// Approved is true once the member was active (auto-activated or approved by an admin).
	Approved bool
}

// Event is what the identity provider did to the SCIM user.
type Event string

// Events.
const (
	EventCreated     Event = "Created"
	EventUpdated     Event = "Updated"
	EventDeactivated Event = "Deactivated" // active went from true to false (or a user was created inactive)
	EventReactivated Event = "Reactivated" // active went from false to true
	EventDeleted     Event = "Deleted"
)

// GroupRole gives members of a group (by displayName, case-insensitive, or externalId) a role.
type GroupRole struct {
	Group string
	Role  string
}

// Group identifies a group a member belongs to.
type Group struct {
	DisplayName string
	ExternalID  string
}

// RoleFor is a member's role from its groups: the first mapping matching one of them, else the
// default role.
func RoleFor(p Policy, groups []Group) string {
	for _, m := range p.GroupRoles {
		for _, g := range groups {
			if strings.EqualFold(m.Group, g.DisplayName) || (g.ExternalID != "" && m.Group == g.ExternalID) {
				return m.Role
			}
		}
	}
	return p.DefaultRole
}

// Deprovisions reports whether an event takes access away (what the guard counts and holds).
func Deprovisions(ev Event) bool { return ev == EventDeactivated || ev == EventDeleted }

// Transition is a change of member state, for the history and the audit log.
type Transition struct {
	From, To State
	// Reason names the event and the policy that applied, e.g. "Deactivated: Suspend".
	Reason string
}

// Decide returns the member after an event, and the state transition when there is one. prev is
// nil for a user the organization has never seen.
func Decide(p Policy, prev *Member, ev Event) (Member, *Transition) {
	if prev == nil {
		m := Member{State: Active, Role: p.DefaultRole, EmployeeActive: true, Approved: true}
		if !p.AutoActivate {
			m.State, m.Approved = PendingReview, false
		}
		from := State("")
		t := &Transition{From: from, To: m.State, Reason: "Created"}
		if ev == EventDeactivated { // created with active=false
			m = deprovision(m, p.OnDeactivate)
			t.To, t.Reason = m.State, "Created inactive: "+string(p.OnDeactivate)
		}
		return m, t
	}
	m := *prev
	switch ev {
	case EventDeactivated:
		m = deprovision(m, p.OnDeactivate)
		return m, transition(prev.State, m.State, "Deactivated: "+string(p.OnDeactivate))
	case EventDeleted:
		m = deprovision(m, p.OnDelete)
		m.Deleted = true
		return m, transition(prev.State, m.State, "Deleted: "+string(p.OnDelete))
	case EventReactivated:
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
		return m, transition(prev.State, m.State, "Reactivated")
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

func transition(from, to State, reason string) *Transition {
	if from == to {
		return nil
	}
	return &Transition{From: from, To: to, Reason: reason}
}

// Approve and Reject are an admin's review decisions on a PendingReview member.
func Approve(m Member) (Member, *Transition) {
	if m.State != PendingReview {
		return m, nil
	}
	prev := m.State
	m.State, m.Approved = Active, true
	return m, transition(prev, m.State, "Approved")
}

// Reject deactivates a member waiting for review.
func Reject(m Member) (Member, *Transition) {
	if m.State != PendingReview {
		return m, nil
	}
	prev := m.State
	m.State, m.EmployeeActive = Deactivated, false
	return m, transition(prev, m.State, "Rejected")
}
