package store

import (
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
)

// Write carries what a SCIM write means beyond the resource: the organization's provisioning
// policy (nil: no member effects or events, as in store-only tests) and the request's audit event.
// The store records the audit event and hands the write to the provisioning package in the
// write's transaction, so a write, its member effects, its events and its audit rows commit or
// fail together. The store itself decides nothing.
type Write struct {
	Policy *provisioning.Policy
	Audit  *AuditEvent
	// Binding is the organization's binding the request was authenticated under. The write lands
	// only while it is the organization's (the zero Binding only while nothing is bound);
	// otherwise ErrOrganizationReleased and nothing is written. A request that passed
	// authentication just before its organization was deleted or re-bound cannot leave rows for
	// the organization's next owner (docs/decisions/0020-organization-fence.md).
	Binding Binding
	// Memberships, when not nil, is set to how many memberships a group's create or update added
	// and removed (what its request is charged for after the fact: a replace removes members it
	// does not name).
	Memberships *int
}

// AuditEvent is one entry of the SCIM audit log. Values are never recorded: Attributes names what
// changed.
type AuditEvent struct {
	Seq              int64     `json:"seq"`
	Org              string    `json:"-"`
	Time             time.Time `json:"time"`
	RequestID        string    `json:"requestId"`
	Action           string    `json:"action"`
	Client           string    `json:"client,omitempty"`
	TokenFingerprint string    `json:"tokenFingerprint,omitempty"`
	Method           string    `json:"method,omitempty"`
	Path             string    `json:"path,omitempty"`
	ResourceType     string    `json:"resourceType,omitempty"`
	ResourceID       string    `json:"resourceId,omitempty"`
	Status           int       `json:"status"`
	ScimType         string    `json:"scimType,omitempty"`
	Detail           string    `json:"detail,omitempty"`
	Attributes       []string  `json:"attributes,omitempty"`
	// Count is how many requests the event stands for: 1 for a write; for requests that wrote
	// nothing, every identical one in the same 100 ms batch (Time and RequestID are the latest's);
	// for aggregated refusals (see Refusal), every refused request of one source and status in a
	// minute. Zero is read as 1 when recording.
	Count int `json:"count"`
	// Source is the client address of an aggregated refusal ("other" once a minute has seen many).
	Source string `json:"source,omitempty"`
	// Binding is the organization's binding the event's request acted under, as Write.Binding:
	// RecordAudit and RecordRefusals drop an event whose binding is no longer the organization's,
	// and ReviewMember and ReleaseDeprovisions fail with ErrOrganizationReleased. Never stored.
	Binding Binding `json:"-"`
}

// AuditQuery pages through an organization's audit log, newest first.
type AuditQuery struct {
	// Before is a cursor: only events with a smaller sequence number (0: from the newest).
	Before int64
	Limit  int
	// Filters; zero values do not filter.
	Since, Until time.Time
	Action       string
	// Failed keeps only refused or failed requests (status 400 and above); Succeeded the others.
	Failed, Succeeded bool
	ResourceID        string
	// SCIMRequests keeps only the identity provider's requests (not member transitions or admin
	// actions, which are events of their own).
	SCIMRequests bool
	// Authenticated keeps only requests made with a valid token (those that record its
	// fingerprint): not the refusals any client can cause.
	Authenticated bool
	// Window, when positive, looks only through the organization's Window newest events below
	// Before (of its failures, with Failed): it bounds how much of the log a filtered read walks
	// (AuditScanWindow).
	Window int
}

// Filtered says whether the query keeps only some events, so that finding a page may walk more
// of the log than the page holds.
func (q AuditQuery) Filtered() bool {
	return q.Action != "" || q.ResourceID != "" || q.Failed || q.Succeeded || q.SCIMRequests || q.Authenticated || !q.Since.IsZero() || !q.Until.IsZero()
}

// AuditScanWindow bounds how many of an organization's audit events one filtered read looks
// through below its cursor: an action, resource or outcome that matches nothing would otherwise
// walk the organization's whole log (millions of rows) on every request. A page that found fewer
// events than its limit within the window ends with a cursor at the window's oldest event, to go
// on from. A variable for the tests.
var AuditScanWindow = 100_000

// MemberRecord is a member with its employee record and history.
type MemberRecord struct {
	UserID   string
	UserName string
	Member   provisioning.Member
	Employee EmployeeRecord
	// History is the member's lifecycle, oldest first: its newest MaxMemberHistory entries, and
	// HistoryTruncated when there were more (an identity provider toggling a user for hours
	// writes thousands).
	History          []HistoryEntry
	HistoryTruncated bool
	Created          time.Time
	Modified         time.Time
}

// MaxMemberHistory bounds the history a member's record carries.
const MaxMemberHistory = 200

// EmployeeRecord is the profile part of a member, from the SCIM user and its enterprise extension.
type EmployeeRecord struct {
	Active bool `json:"active"`
	provisioning.Profile
}

// HistoryEntry is one member state transition.
type HistoryEntry struct {
	Time time.Time          `json:"time"`
	From provisioning.State `json:"from"`
	To   provisioning.State `json:"to"`
	// Kind is the transition's event type; Reason explains it to people.
	Kind      provisioning.EventType `json:"kind,omitempty"`
	Reason    string                 `json:"reason"`
	RequestID string                 `json:"requestId,omitempty"`
}

// MemberQuery pages through an organization's members by user id.
type MemberQuery struct {
	// State keeps members in this state only (empty: all).
	State string
	// Search keeps members whose userName or display name contains it (case-insensitive).
	Search string
	// After is a cursor: the last user id of the previous page.
	After string
	Limit int
}
