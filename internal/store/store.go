// Package store keeps an organization's SCIM resources: one interface, implemented on SQLite and
// PostgreSQL by sqlstore and checked by the storetest conformance suite. Every method takes the
// organization explicitly; nothing crosses organizations.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
)

// Kind is a SCIM resource type.
type Kind string

// Kinds served.
const (
	KindUser  Kind = "User"
	KindGroup Kind = "Group"
)

// Domain errors; the SCIM layer maps them to statuses in one place.
var (
	// ErrNotFound: no such resource in this organization.
	ErrNotFound = errors.New("resource not found")
	// ErrUniqueness: another resource of the organization has this userName.
	ErrUniqueness = errors.New("uniqueness violated")
	// ErrGroupNameTaken is ErrUniqueness for a group's displayName.
	ErrGroupNameTaken = fmt.Errorf("%w: another group of the organization has this displayName", ErrUniqueness)
	// ErrVersionMismatch: the resource changed since the version the client holds (If-Match).
	ErrVersionMismatch = errors.New("version mismatch")
	// ErrTakeover: a member with this userName exists and was not created by SCIM; SCIM never
	// takes it over (decided by provisioning).
	ErrTakeover = provisioning.ErrTakeover
	// ErrOrganizationReleased: the organization is no longer bound as when the write's request
	// was authenticated (its data deleted, or bound to another claim or integration since);
	// nothing was written.
	ErrOrganizationReleased = errors.New("the organization is no longer bound as when the request was authenticated")
	// ErrTooManyRemoved: a write would end more than MaxMembersRemovedPerWrite of a group's
	// memberships (a PUT or a PATCH replacing a large group's members); nothing was written.
	ErrTooManyRemoved = fmt.Errorf("a write may remove at most %d members of a group", MaxMembersRemovedPerWrite)
	// ErrOrganizationBeingDeleted: the organization's data is being deleted (DeleteOrganization
	// was interrupted, or runs); it can be bound again once that is done.
	ErrOrganizationBeingDeleted = errors.New("the organization's data is being deleted; try again once that is done")
	// ErrBusy: the organization already has as many reads waiting as it may; nothing was read,
	// and a retry in a moment finds room. Other organizations' reads are not held back by it.
	ErrBusy = errors.New("the organization has too many reads waiting")
)

// ClaimMismatchError: the organization's data belongs to another OrganizationClaim than the
// one acting; nothing was changed.
type ClaimMismatchError struct {
	Organization string
	// Owner is the UID of the claim that owns the data.
	Owner string
}

func (e *ClaimMismatchError) Error() string {
	return "the data of organization " + e.Organization + " belongs to OrganizationClaim " + e.Owner
}

// ServedElsewhereError: the organization's data is bound to another ScimIntegration of its
// claim than the one deleting it; nothing was changed.
type ServedElsewhereError struct {
	Organization string
	// Integration is the UID of the integration serving the data.
	Integration string
}

func (e *ServedElsewhereError) Error() string {
	return "the data of organization " + e.Organization + " is served by ScimIntegration " + e.Integration
}

// Holds reports whether a write under served lands on data bound as b says (the fence's rule,
// decision 0020): the same claim, and the same integration or one recorded before integrations
// were; the zero Binding (nothing bound) holds only for the zero Binding.
func (b Binding) Holds(served Binding) bool {
	return !b.Deleting && b.Claim == served.Claim && (b.Integration == "" || b.Integration == served.Integration)
}

// BoundOrganization is an organization's row in the store: its binding, and what its integration
// serves as the controller last recorded it. Every replica refuses a token its view of
// Kubernetes accepts but Tokens no longer lists, and answers as switched off for an integration
// recorded Disabled since (tenant.BindingCheck): a token rotated away or replaced stops working,
// and switching an integration off stops it, on a replica whose view lags too.
type BoundOrganization struct {
	Binding
	// Serving is what was recorded; its Tokens are nil when nothing was (a binding recorded
	// before tokens were), and then nothing is refused.
	Serving
	// Version counts the record's changes (and the binding's): a replica acts on a difference
	// only when the record changed after the replica learned what it serves, so a replica whose
	// view is ahead of the controller's record refuses nothing.
	Version int64
}

// Serving is what an organization's integration serves: the fingerprints of the tokens it
// accepts (token.Fingerprint, lower case; at most MaxRecordedTokens), and whether it is
// switched off.
type Serving struct {
	Tokens   []string
	Disabled bool
}

// MaxRecordedTokens bounds the fingerprints recorded per organization: an integration accepts
// its current token and, during a rotation's overlap, the previous one.
const MaxRecordedTokens = 8

// Binding is what an organization's data is bound to: the OrganizationClaim owning it and the
// ScimIntegration serving it (UIDs). Writes carry the binding their request was authenticated
// under and land only while it is the organization's (docs/decisions/0020-organization-fence.md):
// the claim must own the data, and the integration must be the one bound ("" in a binding
// recorded before integrations were: any of the claim's). The zero Binding stands for
// "nothing bound".
type Binding struct {
	Claim       string
	Integration string
	// Deleting says the organization's data is being deleted (DeleteOrganization): no write
	// lands under the binding, and nobody can bind the organization until that is done.
	Deleting bool
}

// InvalidMemberError names a group member that is not a User or Group of the organization.
type InvalidMemberError struct{ ID string }

func (e *InvalidMemberError) Error() string {
	return "member " + e.ID + " is not a User or Group of this organization"
}

// Resource is a stored SCIM resource: indexed columns for what is filtered, sorted and unique, and
// the canonical document (without id, meta, schemas and group members, which have their own
// columns and table).
type Resource struct {
	Org        string
	Kind       Kind
	ID         string
	ExternalID string
	// Name is userName for users and displayName for groups.
	Name string
	// DisplayName of a user (used as member display).
	DisplayName string
	// Email is a user's primary (or first work) email, for lookups.
	Email    string
	Active   bool
	Doc      []byte
	Created  time.Time
	Modified time.Time
	// Version increases with every write; it is the ETag.
	Version int64
	// Groups are a user's groups, set by Get and by List with Query.WithGroups (GroupsLoaded):
	// at most MaxMembershipsRead+1 of them, so that a user in more can be told.
	Groups       []Member
	GroupsLoaded bool
	// ReadForUpdate is what GetForUpdate read with the resource for the Update that follows
	// (the store's own; callers pass it on untouched).
	ReadForUpdate any
}

// Member is one member of a group.
type Member struct {
	Value   string
	Type    Kind
	Display string
}

// MemberChange is what a write does to a group's members.
type MemberChange struct {
	// Replace, when true, makes Add the complete member list.
	Replace bool
	Add     []string
	Remove  []string
}

// Change is what an Update callback asks for; nil fields are left as they are.
type Change struct {
	Resource *Resource
	Members  *MemberChange
	// KeepIfUnchanged says Resource's document is the stored one: when Members changes no
	// membership either, nothing is written (no new version, lastModified kept, no event) and
	// Update returns the resource as it was, with the write's audit recorded (RFC 7644 §3.5.2.1:
	// adding a member already there changes nothing).
	KeepIfUnchanged bool
}

// Query selects a page of resources.
type Query struct {
	// Filter is a parsed SCIM filter; nil selects everything.
	Filter filter.Expression
	// SortBy is an attribute path such as "userName" or "name.familyName"; empty keeps creation order.
	SortBy         string
	SortDescending bool
	// StartIndex is 1-based.
	StartIndex int
	// Count is the most resources returned; 0 returns only the total.
	Count int
	// WithGroups (users only) loads each user's groups into Resource.Groups in the same query
	// (GroupsLoaded) when the query finds at most one user (a userName lookup); other pages are
	// returned without them, for GroupsOf to read within a limit.
	WithGroups bool
}

// Page is a list result.
type Page struct {
	Total     int
	Resources []*Resource
	// DocumentBytes is what the store read of documents for the page: its resources' and, on
	// PostgreSQL, those of rows read past the page's bound (MaxPageBytes), sent all the same.
	DocumentBytes int
}

// Store is the SCIM resource store.
type Store interface {
	// Create stores a new resource (ID, times and version set by the caller), with group members.
	Create(ctx context.Context, r *Resource, members []string, w Write) error
	// Get returns one resource.
	Get(ctx context.Context, org string, kind Kind, id string) (*Resource, error)
	// GetForUpdate is Get for an Update of the resource that follows: the store may read with it
	// what the Update would otherwise read in its transaction.
	GetForUpdate(ctx context.Context, org string, kind Kind, id string) (*Resource, error)
	// Update applies change to current, the resource as Get returned it, only if the resource is
	// still at current.Version: ErrVersionMismatch when it changed since, ErrNotFound when it is
	// gone. A nil change writes no new version, only w's effects. It returns the stored resource
	// after the change. Callers prepare the change from current outside the store's transaction
	// (docs/decisions/0009-bounded-request-work.md) and must not change current.
	Update(ctx context.Context, current *Resource, change *Change, w Write) (*Resource, error)
	// Delete removes a resource and its memberships; ifVersion > 0 requires that version. A deleted
	// user's member and employee record remain. A group of more than
	// provisioning.MembersPerTransaction members, or a user or group that is a member of more
	// groups than that, is gone when Delete returns, but those memberships end later
	// (PendingGroupWork).
	Delete(ctx context.Context, org string, kind Kind, id string, ifVersion int64, w Write) error
	// PendingGroupWork lists the work group writes of the organizations orgs left for later
	// (GroupWork): the oldest perOrganization pieces of each, oldest first, at most limit in all.
	PendingGroupWork(ctx context.Context, orgs []string, perOrganization, limit int) ([]GroupWork, error)
	// DoGroupWork does the next part of work, at most provisioning.MembersPerTransaction
	// memberships, in one transaction under w (the organization's binding and current policy):
	// the events and roles of the memberships a deleted group ends, the roles of a renamed group's
	// members, the events of the memberships a deleted member ends, or the events and roles of
	// the memberships a large member change made.
	// more says that some of it is left.
	DoGroupWork(ctx context.Context, work GroupWork, w Write) (more bool, err error)
	// List returns a page of resources matching the query, filtered in the database.
	List(ctx context.Context, org string, kind Kind, q Query) (*Page, error)
	// Members returns the members of groups, keyed by group id, reading at most limit members in
	// all: fit is how many of groupIDs, from the first, have all their members in the map (a
	// group whose members would pass the limit, and those after it, are left out).
	Members(ctx context.Context, org string, groupIDs []string, limit int) (members map[string][]Member, fit int, err error)
	// GroupsOf returns the groups that directly contain each member, keyed by member id, in
	// group id order (creation order for the UUIDv7 ids the SCIM endpoint makes), reading at most
	// limit in all: fit as Members'.
	GroupsOf(ctx context.Context, org string, memberIDs []string, limit int) (groups map[string][]Member, fit int, err error)
	// UsersByID returns the organization's users with these ids, keyed by id; ids that name no
	// user of the organization are left out.
	UsersByID(ctx context.Context, org string, ids []string) (map[string]*Resource, error)
	// Member returns a member with its employee record and history.
	Member(ctx context.Context, org, userID string) (*MemberRecord, error)
	// Members lists an organization's members (without history), and the cursor of the next page
	// ("" at the end).
	ListMembers(ctx context.Context, org string, q MemberQuery) ([]MemberRecord, string, error)
	// ReviewMember approves (or rejects) a member waiting for review, recording the transition
	// and the audit event in one transaction. A member not in review is returned unchanged.
	ReviewMember(ctx context.Context, org, userID string, approve bool, audit AuditEvent) (*MemberRecord, error)
	// HeldDeprovisions counts deprovisionings held by the mass-deprovisioning guard.
	HeldDeprovisions(ctx context.Context, org string) (int64, error)
	// ReleaseDeprovisions applies the held deprovisionings under the policy (its guard aside).
	ReleaseDeprovisions(ctx context.Context, org string, p provisioning.Policy, audit AuditEvent) (int, error)
	// Deliveries: the events outbox and where event subscriptions stand.
	Deliveries
	// PruneEvents deletes an organization's events and dead letters older than before; it returns
	// how many events.
	PruneEvents(ctx context.Context, org string, before time.Time) (int64, error)
	// MemberCounts counts an organization's members per state.
	MemberCounts(ctx context.Context, org string) (map[string]int64, error)
	// RecordAudit appends audit events outside any write (reads, refused requests).
	RecordAudit(ctx context.Context, events []AuditEvent) error
	// RecordRefusals adds aggregated refusals to the audit log: one row per organization and key,
	// created by the first call naming the key, whose count the later ones add to.
	RecordRefusals(ctx context.Context, refusals []Refusal) error
	// AuditEvents pages through an organization's audit log, newest first.
	AuditEvents(ctx context.Context, org string, q AuditQuery) ([]AuditEvent, error)
	// AuditWindowEnd reads the oldest event (its sequence number and time) of a windowed read's
	// window; more is false when the window held fewer events than q.Window, so the read looked
	// through the rest of the log.
	AuditWindowEnd(ctx context.Context, org string, q AuditQuery) (seq, atMicros int64, more bool, err error)
	// ActivityMark moves with every request, write and refusal the organization's audit log
	// records, so a reader can tell cheaply that nothing happened since it last looked.
	ActivityMark(ctx context.Context, org string) (ActivityMark, error)
	// SignOut records that a wizard user (a key naming the identity) signed out at at: their
	// sessions issued before it end, on every replica. Sign-outs older than at-keep are forgotten.
	SignOut(ctx context.Context, user string, at time.Time, keep time.Duration) error
	// SignedOutAt returns when a wizard user last signed out (zero: not since at-keep).
	SignedOutAt(ctx context.Context, user string) (time.Time, error)
	// PruneAudit deletes an organization's audit events older than before; it returns how many.
	PruneAudit(ctx context.Context, org string, before time.Time) (int64, error)
	// BindOrganization records that b.Claim (an OrganizationClaim's UID) owns the organization's
	// data and b.Integration (a ScimIntegration's UID) serves it. The first claim to bind owns it;
	// another claim takes it over only when adoptFrom names the current owner; otherwise
	// *ClaimMismatchError. The owner binding another integration moves the binding to it: writes
	// made under the one before are refused from then on.
	BindOrganization(ctx context.Context, org string, b Binding, adoptFrom string) error
	// OrganizationOwner returns the UID of the claim owning the organization's data ("" when
	// nothing is bound).
	OrganizationOwner(ctx context.Context, org string) (string, error)
	// OrganizationBinding returns the organization's binding (zero when nothing is bound).
	OrganizationBinding(ctx context.Context, org string) (Binding, error)
	// OrganizationBindings returns the bindings of the organizations named, with the tokens their
	// integrations accept (none for those with nothing bound).
	OrganizationBindings(ctx context.Context, orgs []string) (map[string]BoundOrganization, error)
	// RecordServing records what the organization's integration serves (its tokens, whether it
	// is switched off), while the organization is bound as b says (nothing otherwise).
	RecordServing(ctx context.Context, org string, b Binding, serving Serving) error
	// OrganizationBoundTo returns the organization bound to a ScimIntegration (its UID), "" when
	// none or several are.
	OrganizationBoundTo(ctx context.Context, integration string) (string, error)
	// DeleteOrganization removes every resource of the organization and its binding, when b's
	// claim owns it (or nothing is bound); otherwise *ClaimMismatchError and nothing is deleted.
	// It marks the binding as being deleted first (Binding.Deleting) and deletes a part at a
	// time: an error after the mark leaves the data partly deleted, and the organization refused
	// to writes and to BindOrganization (ErrOrganizationBeingDeleted), until a later call, or
	// FinishOrganizationDeletion, ends it.
	// With an integration in b, the organization must not be bound to another integration:
	// otherwise *ServedElsewhereError and nothing is deleted (an integration's deletionPolicy
	// does not take the data its successor serves). It waits for the organization's writes in
	// flight, which land before it and are deleted with the rest; a write after it fails with
	// ErrOrganizationReleased. BindOrganization fences writes the same way.
	DeleteOrganization(ctx context.Context, org string, b Binding) error
	// OrganizationsBeingDeleted lists organizations whose deletion was marked and not finished,
	// at most limit.
	OrganizationsBeingDeleted(ctx context.Context, limit int) ([]string, error)
	// FinishOrganizationDeletion ends the marked deletion of an organization's data; finished
	// is false when it was not marked, or when a deletion of it is under way in this process.
	FinishOrganizationDeletion(ctx context.Context, org string) (finished bool, err error)
	// Ping checks that the database answers (readiness).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error
}

// ActivityMark is the newest audit event's sequence number and the latest audit time (an
// aggregated refusal counts up in place: its time moves, its sequence number does not).
type ActivityMark struct{ Seq, Time int64 }

// FilterError is a filter or sort the store cannot evaluate: the client's mistake (invalidFilter).
type FilterError struct{ Detail string }

func (e *FilterError) Error() string { return e.Detail }

// MaxPageBytes bounds the stored documents of one page of List: a page stops before the
// resource that would pass it, the first resource always kept (RFC 7644 §3.4.2.4 lets a page hold
// fewer than asked; the next starts after it). A page of 1,000 resources of the largest size a
// document may have would otherwise hold 256 MiB, and be rendered again to be sent.
const MaxPageBytes = 8 << 20

// MaxMembershipsRead bounds the memberships one read of the store returns: a user's groups read
// with the user (Get, List with WithGroups: at most MaxMembershipsRead+1 of them, so that a user
// in more can be told), and the limit a response of the SCIM endpoint gives Members and GroupsOf.
// Neither a group's size nor a user's groups are limited, so without it a read grew with them.
const MaxMembershipsRead = 50000

// MaxMembersRemovedPerWrite bounds the members one write removes from a group, as the SCIM
// endpoint bounds the members a request names (20,000): a PUT or a PATCH replacing the members of
// a group grown larger by many PATCHes would otherwise end every membership, each with its event
// and role, in one transaction. A group is emptied by deleting it, or by PATCHes removing members
// by value.
const MaxMembersRemovedPerWrite = 20000

// GroupWork is work a write of a large group, or of a member of many groups, left for later
// (PendingGroupWork).
type GroupWork struct {
	Org string
	// GroupID is the group; for MemberDeleted, the deleted member (a user or a group).
	GroupID string
	// Kind is GroupDeleted (the group's memberships to end), GroupRolesToReview, MemberDeleted
	// (the member's memberships of groups to end) or GroupMembersToAnnounce (the events and
	// roles of a large member change).
	Kind string
	// Since is when the write left it.
	Since time.Time
}

// Kinds of GroupWork.
const (
	GroupDeleted       = "deleted"
	GroupRolesToReview = "roles"
	MemberDeleted      = "member-deleted"
	// GroupMembersToAnnounce: the memberships a write of more than
	// provisioning.MembersPerTransaction members added or removed, whose events and roles wait.
	GroupMembersToAnnounce = "members"
)
