package sqlstore

import (
	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// readAhead is what a write's first statement read for provisioning, on PostgreSQL, so that
// provisioning's own reads need no round trip of their own: the member of an updated user, read
// and locked with its UPDATE (update_row.go), or whether a non-SCIM member holds a created user's
// userName, read with its INSERT (Create). Each answer is given once, to the first read of it;
// a write to the member takes the member's back (it is no longer current).
//
// A user created with no member or employee record left under its id (always, for a new SCIM id)
// has nothing in the database but what its write stores: created and saved hold that, and its
// event snapshot is built from them instead of read back (snapshots.go). On PostgreSQL the
// write's held statements then go with its events, in one statement.
type readAhead struct {
	org, userID string
	member      *provisioning.Member
	hasMember   bool
	// userNameLower is the userName foreign answers for.
	userNameLower string
	foreign       bool
	hasForeign    bool
	created       *store.Resource
	saved         *savedMember
}

// savedMember is what a write stored of its created user's member and employee record.
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

// isCreated reports whether userID is the user this write created from nothing.
func (r *readAhead) isCreated(org, userID string) bool {
	return r != nil && r.created != nil && r.org == org && r.created.ID == userID
}

// savedMemberOf is what the write stored of the member of the user it created, as the snapshot
// query would read it back; ok is false for any other user.
func (r *readAhead) savedMemberOf(org, userID string) (saved *savedMember, user *store.Resource, ok bool) {
	if !r.isCreated(org, userID) {
		return nil, nil, false
	}
	return r.saved, r.created, true
}

// memberSaved follows SaveMember's upsert: an empty userName keeps the one stored.
func (r *readAhead) memberSaved(org, userID, userName string, m provisioning.Member) {
	if !r.isCreated(org, userID) {
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
	if !r.isCreated(org, userID) {
		return
	}
	if r.saved == nil {
		r.created = nil // a record before its member: no such write today; read it back
		return
	}
	switch {
	case profile != nil:
		r.saved.employee = &store.EmployeeRecord{Active: active, Profile: *profile}
	case r.saved.employee != nil:
		r.saved.employee.Active = active
	}
}
