package main

import "time"

// Event is one provisioning event. A webhook's body and an item of the Events API are the same object.
type Event struct {
	// ID is the idempotency key: a redelivery carries the same id (and the same webhook-id header).
	ID   string `json:"id"`
	Type string `json:"type"`
	// Sequence numbers an organization's events from 1 without gaps.
	Organization string    `json:"organization"`
	Sequence     int64     `json:"sequence"`
	Time         time.Time `json:"time"`
	Actor        Actor     `json:"actor"` // absent when unknown
	RequestID    string    `json:"requestId,omitempty"`
	Data         EventData `json:"data"`
}

// Actor is who caused the event: the identity provider (its SCIM token's fingerprint) or an admin.
type Actor struct {
	Type             string `json:"type"` // "identityProvider" or "admin"
	TokenFingerprint string `json:"tokenFingerprint,omitempty"`
	User             string `json:"user,omitempty"`
}

// EventData is the subject of the event as it is after the change, and what it was before.
type EventData struct {
	Trigger       string  `json:"trigger,omitempty"` // Created, Deactivated, Reactivated, Deleted, Approved, Rejected
	PreviousState string  `json:"previousState,omitempty"`
	PreviousRole  string  `json:"previousRole,omitempty"` // member.role_changed
	Member        *Member `json:"member,omitempty"`       // member.*, membership.*, deprovision.*
	Group         *Group  `json:"group,omitempty"`        // group.*, membership.*
}

// Member is a snapshot of a member. In membership.* events a nested group appears as a member with only its id.
type Member struct {
	ID          string     `json:"id"`
	UserName    string     `json:"userName,omitempty"`
	State       string     `json:"state,omitempty"` // Active, PendingReview, Suspended, Deactivated
	Role        string     `json:"role,omitempty"`
	Permissions []string   `json:"permissions,omitempty"` // the role's RoleTemplate.spec.permissions
	DisplayName string     `json:"displayName,omitempty"`
	Name        Name       `json:"name,omitzero"`
	Emails      []Email    `json:"emails,omitempty"`
	Employee    Employee   `json:"employee,omitzero"`
	Groups      []GroupRef `json:"groups,omitempty"`
}

// Name holds the parts of a member's name.
type Name struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// Email is one of a member's addresses.
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Employee is the member's employee record; empty fields are left out.
type Employee struct {
	Active         bool   `json:"active"`
	DisplayName    string `json:"displayName,omitempty"`
	Title          string `json:"title,omitempty"`
	EmployeeNumber string `json:"employeeNumber,omitempty"`
	Department     string `json:"department,omitempty"`
	CostCenter     string `json:"costCenter,omitempty"`
	Division       string `json:"division,omitempty"`
	Organization   string `json:"organization,omitempty"`
	ManagerID      string `json:"managerId,omitempty"`
}

// GroupRef names a group a member belongs to.
type GroupRef struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName,omitempty"`
}

// Group is a snapshot of a SCIM group.
type Group struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName,omitempty"`
	ExternalID  string `json:"externalId,omitempty"`
}
