package scim

import (
	"testing"

	"github.com/google/uuid"
)

// Resource ids are UUIDs ordered by creation (version 7), so creates append to the indexes keyed
// by organization and id instead of landing on random pages.
func TestResourceIDsAreTimeOrderedUUIDs(t *testing.T) {
	previous := ""
	for range 1000 {
		id := newResourceID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || u.String() != id {
			t.Fatalf("%q is not a canonical version 7 UUID (%v)", id, err)
		}
		if id <= previous {
			t.Fatalf("%q follows %q: ids must grow as they are made", id, previous)
		}
		previous = id
	}
}
