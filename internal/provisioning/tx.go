package provisioning

import (
	"context"
	"errors"
	"time"
)

// Tx is what provisioning needs of the store, inside the transaction of the write it answers.
// Every method is scoped to one organization; none decides anything.
type Tx interface {
	// LockGuard serialises the mass-deprovisioning guard of an organization until the
	// transaction ends (replicas and concurrent writers count and hold one at a time).
	LockGuard(ctx context.Context, org string) error
	// LoadMember returns a member (nil when there is none) and locks it until the transaction
	// ends, so an admin's review and a SCIM write to one member serialise.
	LoadMember(ctx context.Context, org, userID string) (*Member, error)
	// SaveMember stores a member; an empty userName keeps the stored one.
	SaveMember(ctx context.Context, org, userID, userName string, m Member) error
	// SaveEmployee stores the employee record; a nil profile changes only whether it is active.
	SaveEmployee(ctx context.Context, org, userID string, active bool, profile *Profile) error
	// AppendHistory records a member's state transition.
	AppendHistory(ctx context.Context, org, userID string, t Transition, origin Origin) error
	// CountDeprovisionsSince counts the transitions of type member.suspended and
	// member.deactivated recorded since the time.
	CountDeprovisionsSince(ctx context.Context, org string, since time.Time) (int, error)
	// CountHeld counts the organization's held deprovisionings.
	CountHeld(ctx context.Context, org string) (int, error)
	// Hold keeps a deprovisioning for an admin's release.
	Hold(ctx context.Context, org, userID string, trigger Trigger, origin Origin) error
	// TakeHolds removes and returns the organization's oldest held deprovisionings, at most limit
	// of those made up to through (a hold's sequence number), oldest first: exactly the ones it
	// removes.
	TakeHolds(ctx context.Context, org string, through int64, limit int) ([]Hold, error)
	// LoadUser returns the SCIM user (nil when the identity provider deleted it).
	LoadUser(ctx context.Context, org, userID string) (*User, error)
	// MemberNotFromSCIM reports whether a member with this userName (case-insensitive) exists
	// that SCIM did not create.
	MemberNotFromSCIM(ctx context.Context, org, userName string) (bool, error)
	// GroupsOf returns the groups that directly contain a member, at most limit of them.
	GroupsOf(ctx context.Context, org, memberID string, limit int) ([]Group, error)
	// InGroupNamed reports whether a member is directly in a group a mapping names (GroupRole's
	// rule: its displayName lower-cased, or its externalId; of the groups sharing one externalId,
	// the first GroupsSharingAnExternalID created).
	InGroupNamed(ctx context.Context, org, memberID, name string) (bool, error)
	// GroupMembers returns a group's direct members in id order: at most limit of them, those
	// after the id after ("" for the first).
	GroupMembers(ctx context.Context, org, groupID, after string, limit int) ([]string, error)
	// DeferRoleReview leaves the review of a renamed group's members' roles to the group worker
	// (names: the group's names after the rename).
	DeferRoleReview(ctx context.Context, org, groupID string, names Group, origin Origin) error
	// DeferMemberships leaves the events and roles of the memberships a write of a group added
	// and removed to the group worker (names: the group's as the write left it, for as long as
	// nothing newer is known).
	DeferMemberships(ctx context.Context, org, groupID string, names Group, added, removed []string, origin Origin) error
	// ForgetDeferredMemberships drops what DeferMemberships left to announce of members a write
	// of the group since changed and announced itself.
	ForgetDeferredMemberships(ctx context.Context, org, groupID string, members []string) error
	// Append records events: each real one in the organization's outbox with the next sequence
	// number, and in the audit log where it has an audit action.
	Append(ctx context.Context, org string, origin Origin, events []Event) error
}

// Hold is a held deprovisioning.
type Hold struct {
	UserID  string
	Trigger Trigger
}

// Origin is who caused a write, as events and history record it.
type Origin struct {
	RequestID string
	// Actor is "token:<fingerprint>" for an identity provider, "admin:<user>" for an admin.
	Actor string
	Time  time.Time
}

// ErrTakeover: a member with this userName exists and was not created by SCIM; SCIM never takes
// it over.
var ErrTakeover = errors.New("a member with this userName exists and was not created by SCIM")

// ErrNoMember: the member does not exist.
var ErrNoMember = errors.New("no such member")
