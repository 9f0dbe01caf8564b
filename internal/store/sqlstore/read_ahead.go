package sqlstore

import (
	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
)

// readAhead is what a write's first statement read for provisioning, on PostgreSQL, so that
// provisioning's own reads need no round trip of their own: the member of an updated user, read
// and locked with its UPDATE (update_row.go), or whether a non-SCIM member holds a created user's
// userName, read with its INSERT (Create). Each answer is given once, to the first read of it;
// a write to the member takes the member's back (it is no longer current).
type readAhead struct {
	org, userID string
	member      *provisioning.Member
	hasMember   bool
	// userNameLower is the userName foreign answers for.
	userNameLower string
	foreign       bool
	hasForeign    bool
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
