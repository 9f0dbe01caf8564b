package provisioning

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

// Trigger is what the identity provider (or an admin) did that a member decision answers.
type Trigger string

// Triggers. The strings are stored (held deprovisionings, events): never reword them.
const (
	UserCreated     Trigger = "Created"
	UserUpdated     Trigger = "Updated"
	UserDeactivated Trigger = "Deactivated" // active went from true to false (or a user was created inactive)
	UserReactivated Trigger = "Reactivated" // active went from false to true
	UserDeleted     Trigger = "Deleted"
	AdminApproved   Trigger = "Approved"
	AdminRejected   Trigger = "Rejected"
)

// Deprovisions reports whether a trigger takes access away (what the guard counts and holds).
func (t Trigger) Deprovisions() bool { return t == UserDeactivated || t == UserDeleted }

// GroupRole gives members of a group (by displayName, case-insensitive, or externalId) a role.
type GroupRole struct {
	Group string
	Role  string
}

// names says whether the mapping names group g: by displayName lower-cased (as the store keeps
// and compares group names, so that a lookup by name agrees), or by externalId.
func (m GroupRole) names(g Group) bool {
	// Not EqualFold, which calls "ſ" and "s" equal: the store compares names lower-cased.
	sameName := strings.ToLower(m.Group) == strings.ToLower(g.DisplayName) //nolint:staticcheck // see above
	return sameName || (g.ExternalID != "" && m.Group == g.ExternalID)
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
			if m.names(g) {
				return m.Role
			}
		}
	}
	return p.DefaultRole
}

// User is what provisioning reads of a SCIM user.
type User struct {
	ID       string
	UserName string
	Active   bool
	Profile  Profile
}
