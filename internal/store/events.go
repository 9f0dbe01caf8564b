package store

import (
	"context"
	"errors"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
)

// EventRecord is a provisioning event as the outbox keeps it.
type EventRecord struct {
	// ID is the event's stable, unique id: the receivers' idempotency key.
	ID string
	// Seq numbers the organization's events from 1, without gaps between committed writes.
	Seq       int64
	Time      time.Time
	RequestID string
	// Actor is "token:<fingerprint>" for an identity provider's write, "admin:<user>" for an admin's.
	Actor string
	Event provisioning.Event
	// Data is the subject as it was when the event happened; DataSize its stored size in bytes.
	Data     EventData
	DataSize int
}

// EventData is an event's snapshot of its subject, as applications receive it (permissions are
// added at delivery, from the role's RoleTemplate).
type EventData struct {
	Trigger       provisioning.Trigger `json:"trigger,omitempty"`
	PreviousState provisioning.State   `json:"previousState,omitempty"`
	PreviousRole  string               `json:"previousRole,omitempty"`
	Member        *MemberSnapshot      `json:"member,omitempty"`
	Group         *GroupSnapshot       `json:"group,omitempty"`
}

// MemberSnapshot is a member with what the application needs to grant access: its SCIM user's
// names and emails, its state and role, its employee record and its groups. A member whose SCIM
// user is gone keeps its userName, state, role and record; a nested group as a member has only
// its id.
type MemberSnapshot struct {
	ID          string             `json:"id"`
	UserName    string             `json:"userName,omitempty"`
	State       provisioning.State `json:"state,omitempty"`
	Role        string             `json:"role,omitempty"`
	Permissions []string           `json:"permissions,omitempty"`
	DisplayName string             `json:"displayName,omitempty"`
	Name        *PersonName        `json:"name,omitempty"`
	Emails      []Email            `json:"emails,omitempty"`
	Employee    *EmployeeRecord    `json:"employee,omitempty"`
	// Groups are the member's first MaxSnapshotGroups groups in id order (oldest first for the
	// UUIDv7 ids the SCIM endpoint makes); GroupsTruncated says it has more (membership events
	// name every group it joins or leaves).
	Groups          []GroupRef `json:"groups,omitempty"`
	GroupsTruncated bool       `json:"groupsTruncated,omitempty"`
}

// MaxSnapshotGroups bounds the groups a member's snapshot carries: every event about a member
// stores its snapshot, so a member in thousands of groups would otherwise make each of its
// events (each membership added, one by one) hundreds of kilobytes, and their sum grow with the
// square of its groups.
const MaxSnapshotGroups = 100

// SetGroups sets the snapshot's groups, at most MaxSnapshotGroups of them.
func (m *MemberSnapshot) SetGroups(groups []GroupRef) {
	m.Groups, m.GroupsTruncated = groups, false
	if len(groups) > MaxSnapshotGroups {
		m.Groups, m.GroupsTruncated = groups[:MaxSnapshotGroups:MaxSnapshotGroups], true
	}
}

// PersonName is a SCIM user's name parts.
type PersonName struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// Email is one of a SCIM user's emails.
type Email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// GroupRef names a group a member belongs to.
type GroupRef struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

// GroupSnapshot is a group as it was when the event happened (a deleted group keeps its names).
type GroupSnapshot struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName,omitempty"`
	ExternalID  string `json:"externalId,omitempty"`
}

// Deliveries is where event subscriptions stand, per organization, and their dead letters. The
// delivery worker is its only writer.
type Deliveries interface {
	// Events pages through an organization's events in sequence order, after a sequence number.
	Events(ctx context.Context, org string, after int64, limit int) ([]EventRecord, error)
	// Delivery returns a subscription's state for an organization. A subscription seen for the
	// first time starts just before the organization's first event at or after from (its
	// creation: it receives what happens from then on); a zero from starts it after the newest
	// event. LatestSeq is read first: every event numbered up to it is either kept or pruned
	// when a later Events call reads.
	Delivery(ctx context.Context, subscription, org string, from time.Time) (*Delivery, error)
	// RecordDelivery records what became of the event seq: delivered, skipped (not a type the
	// subscription wants), failed (retry at the given time) or dead-lettered. It never moves a
	// subscription backwards.
	RecordDelivery(ctx context.Context, subscription, org string, seq int64, o DeliveryOutcome) error
	// DeadLetters lists a subscription's dead letters for an organization, oldest first.
	DeadLetters(ctx context.Context, subscription, org string, limit int) ([]DeadLetter, error)
	// Replay rewinds a subscription to just before its oldest dead letter of the organization and
	// clears them: everything from there is delivered again (receivers deduplicate by event id).
	// It returns how many dead letters there were.
	Replay(ctx context.Context, subscription, org string) (int, error)
	// ForgetSubscription removes a subscription's state and dead letters in every organization.
	ForgetSubscription(ctx context.Context, subscription string) error
	// DeliveryPositions returns where every subscription stands in every organization it has
	// started in, beside the organization's newest event number (those committed before the call
	// numbered first), so the deliverer can pass over pairs with nothing new in one read.
	DeliveryPositions(ctx context.Context) ([]DeliveryPosition, error)
}

// DeliveryPosition is where a subscription stands in an organization: DeliveredSeq of
// LatestSeq, and when a failed event is tried again (zero: none waits).
type DeliveryPosition struct {
	Subscription, Org       string
	DeliveredSeq, LatestSeq int64
	NextAttempt             time.Time
}

// Delivery is a subscription's state in one organization.
type Delivery struct {
	// DeliveredSeq is the last sequence number acknowledged, skipped or dead-lettered.
	DeliveredSeq int64
	// Attempts failed for the next event since FirstFailure; NextAttempt is when to try again.
	Attempts                  int
	FirstFailure, NextAttempt time.Time
	LastDelivered             time.Time
	LastError                 string
	// LatestSeq is the organization's newest event, OldestPending the time of the first event
	// after DeliveredSeq (zero: none), DeadLettered how many dead letters wait.
	LatestSeq     int64
	OldestPending time.Time
	DeadLettered  int64
	// Lost counts events pruned (past the retention) before they were delivered, which the
	// subscription passed over; LostAt is when it last did.
	Lost   int64
	LostAt time.Time
}

// DeliveryOutcome is what became of one delivery attempt.
type DeliveryOutcome struct {
	Kind DeliveryKind
	// At is when it happened (zero: now), on the deliverer's clock.
	At time.Time
	// RetryAt is when to try a failed event again; Error says why it failed (a status code or
	// connection error, never a response body).
	RetryAt time.Time
	Error   string
	// EventID names the event at the outcome's sequence number (every kind): the outcome is
	// recorded only while that event is still numbered so, or was pruned, and not after the
	// organization's data was deleted. Type names a dead-lettered
	// event's type.
	EventID, Type string
	// From, when set, is where the deliverer found the subscription before this outcome: the
	// outcome is recorded only while it still stands there (else ErrDeliveryMoved). A replay
	// that rewound it, or another replica's deliverer that moved it, meanwhile wins over a round
	// that read it before.
	From *int64
	// Lost counts the events before seq that were pruned before they were delivered: the outcome
	// passes over them too and counts them. A Failed outcome with Lost moves the subscription to
	// just before seq and starts the retry state anew (the one recorded was a pruned event's).
	Lost int64
}

// ErrDeliveryMoved: an outcome with From was not recorded, as the subscription no longer stands
// there (a replay, another replica's deliverer, the organization's data deleted); the round that
// read it should end and leave the pair to a round that reads it anew.
var ErrDeliveryMoved = errors.New("the subscription's position moved since it was read")

// DeliveryKind says what became of an event.
type DeliveryKind int

// Delivery outcomes.
const (
	Delivered DeliveryKind = iota
	Skipped
	Failed
	DeadLettered
)

// DeadLetter is an event a subscription gave up on.
type DeadLetter struct {
	Seq      int64     `json:"sequence"`
	EventID  string    `json:"eventId"`
	Type     string    `json:"type"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"lastError,omitempty"`
	Time     time.Time `json:"deadLetteredAt"`
}
