package sqlstore

import (
	"encoding/json"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// readAhead is what a write's first statement read for provisioning, on PostgreSQL, so that
// provisioning's own reads need no round trip of their own: the member of an updated user, read
// and locked with its UPDATE (update_row.go), or whether a non-SCIM member holds a created user's
// userName, read with its INSERT (Create). Each answer is given once, to the first read of it;
// a write to the member takes the member's back (it is no longer current).
//
// The user a write leaves behind, its member and employee record may be known without reading
// them back: a user created with nothing left under its id (always, for a new SCIM id) has only
// what its write stores; an updated user's member was read and locked with its UPDATE, with its
// employee record and groups. user and saved hold that, followed through the write's own saves,
// and its event snapshot is built from them (snapshots.go), so the write's held statements go
// with its events in one statement.
type readAhead struct {
	org, userID string
	member      *provisioning.Member
	hasMember   bool
	// userNameLower is the userName foreign answers for.
	userNameLower string
	foreign       bool
	hasForeign    bool
	user          *store.Resource // the user as the write leaves it; nil: read the snapshot back
	doc           *userDocument   // user's document, decoded once (documentOf)
	saved         *savedMember    // its member as stored so far (nil: none)
	groups        []store.GroupRef
}

// userDocument is what a write reads of a user's document: the employee profile provisioning
// keeps and what a member snapshot shows. A create, PUT or PATCH needs both; decoding the
// document once for each was 6 % of the manager's CPU on PATCH (profiled).
type userDocument struct {
	provisioning.ProfileDocument
	Name   *store.PersonName `json:"name"`
	Emails []store.Email     `json:"emails"`
}

// decodeUserDocument reads a user's document; a field of the wrong type reads as empty, as the
// canonical form never has one.
func decodeUserDocument(doc []byte) *userDocument {
	d := &userDocument{}
	_ = json.Unmarshal(doc, d)
	return d
}

// documentOf decodes user's document, once when it is the user the write leaves (r may be nil).
func (r *readAhead) documentOf(user *store.Resource) *userDocument {
	if r != nil && r.user == user && r.doc != nil {
		return r.doc
	}
	d := decodeUserDocument(user.Doc)
	if r != nil && r.user == user {
		r.doc = d
	}
	return d
}

// savedMember is a known user's member and employee record, as stored so far in the write.
type savedMember struct {
	userName, role string
	state          provisioning.State
	employee       *store.EmployeeRecord
}

// takeMember answers provisioning's LoadMember of the user read ahead.
func (r *readAhead) takeMember(org, userID string) (*provisioning.Member, bool) {
	if r == nil || !r.hasMember || r.org != org || r.userID != userID {
		return nil, false
	}
	r.hasMember = false
	return r.member, true
}

// takeForeign answers provisioning's MemberNotFromSCIM of the userName read ahead.
func (r *readAhead) takeForeign(org, userNameLower string) (foreign, ok bool) {
	if r == nil || !r.hasForeign || r.org != org || r.userNameLower != userNameLower {
		return false, false
	}
	r.hasForeign = false
	return r.foreign, true
}

// written forgets the member once the write changes members or employee records.
func (r *readAhead) written(table string) {
	if r != nil && (table == "members" || table == "employee_records") {
		r.hasMember = false
	}
}

// isKnown reports whether userID is the user whose member the write knows.
func (r *readAhead) isKnown(org, userID string) bool {
	return r != nil && r.user != nil && r.org == org && r.user.ID == userID
}

// stored is the known user's member and employee record as the write's statements leave them
// (nil: no member row, or not the known user). A member read ahead was locked with its read, and
// one saved earlier in the write stays: either way its row is there for an UPDATE.
func (r *readAhead) stored(org, userID string) *savedMember {
	if !r.isKnown(org, userID) {
		return nil
	}
	return r.saved
}

// knownMember is the known user's snapshot as the snapshot query would read it back; ok is false
// for any other user.
func (r *readAhead) knownMember(org, userID string) (*store.MemberSnapshot, bool) {
	if !r.isKnown(org, userID) {
		return nil, false
	}
	return memberFromWrite(userID, r.saved, r.documentOf(r.user), r.groups), true
}

// memberSaved follows SaveMember's upsert: an empty userName keeps the one stored.
func (r *readAhead) memberSaved(org, userID, userName string, m provisioning.Member) {
	if !r.isKnown(org, userID) {
		return
	}
	if r.saved == nil {
		r.saved = &savedMember{userName: userName}
	} else if userName != "" {
		r.saved.userName = userName
	}
	r.saved.state, r.saved.role = m.State, m.Role
}

// employeeSaved follows SaveEmployee: a profile writes the whole record, none only its active flag
// (and only when there is a record).
func (r *readAhead) employeeSaved(org, userID string, active bool, profile *provisioning.Profile) {
	if !r.isKnown(org, userID) {
		return
	}
	if r.saved == nil {
		r.user = nil // a record before its member: no such write today; read it back
		return
	}
	switch {
	case profile != nil:
		r.saved.employee = &store.EmployeeRecord{Active: active, Profile: *profile}
	case r.saved.employee != nil:
		r.saved.employee.Active = active
	}
}
