package provisioning

import "strings"

// EventType names a provisioning event. The strings are stored in the outbox and delivered to
// applications: they are a contract, never reworded.
type EventType string

// Event types.
const (
	// MemberProvisioned: a member exists for a new SCIM user (To is its first state).
	MemberProvisioned   EventType = "member.provisioned"
	MemberActivated     EventType = "member.activated"      // became Active other than by reactivation or approval
	MemberSuspended     EventType = "member.suspended"      // access off, employee record kept
	MemberDeactivated   EventType = "member.deactivated"    // access off, employee record inactive
	MemberReactivated   EventType = "member.reactivated"    // back from Suspended or Deactivated
	MemberPendingReview EventType = "member.pending_review" // waiting for an admin again
	MemberApproved      EventType = "member.approved"
	MemberRejected      EventType = "member.rejected"
	MemberRoleChanged   EventType = "member.role_changed"
	MemberUpdated       EventType = "member.updated" // the SCIM user changed, the state did not

	GroupCreated EventType = "group.created"
	GroupUpdated EventType = "group.updated"
	GroupDeleted EventType = "group.deleted"

	MembershipAdded   EventType = "membership.added"
	MembershipRemoved EventType = "membership.removed"

	DeprovisionHeld     EventType = "deprovision.held"
	DeprovisionReleased EventType = "deprovision.released"
)

// Event is one thing provisioning did (or, in dry run, would have done) to an organization.
type Event struct {
	Type EventType
	// Subject is the member's user id, or the group's id for group events.
	Subject string
	// Group is the group of a membership event.
	Group string
	// GroupNames are the group's names when the writer knows them (a deleted group's are gone
	// from the store by the time events are recorded).
	GroupNames *Group
	// From and To are the states of a member transition.
	From, To State
	// Role is the member's role after the event; PreviousRole before a role change.
	Role, PreviousRole string
	// Trigger is what caused it.
	Trigger Trigger
	// Detail explains the event to people (the audit log). Nothing reads it.
	Detail string
	// DryRun marks what would have happened: recorded in the audit log, not as an event.
	DryRun bool
}

// IsTransition reports whether the event changed a member's state (its history records these).
func (e Event) IsTransition() bool { return e.To != "" && e.From != e.To }

// AuditAction is the audit-log action recording the event ("" when the request's own audit event
// says enough). The names predate typed events and are kept for existing audit queries.
func (e Event) AuditAction() string {
	action := ""
	switch {
	case e.Type == DeprovisionHeld:
		action = "member.deprovision.held"
	case e.Type == MemberRoleChanged:
		action = "member.role"
	case e.IsTransition():
		action = "member." + strings.ToLower(string(e.To))
	}
	if action != "" && e.DryRun {
		action += ".dry-run"
	}
	return action
}
