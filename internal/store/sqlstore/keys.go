package sqlstore

import (
	"strings"
	"unicode/utf8"
)

// namesNothing reports whether any of a client's keys or filter values (a resource id from a URL,
// an audit or member list's action, resource, state or cursor) cannot match a stored row: every id
// the service makes is ASCII and every stored text is valid UTF-8 without NUL characters, and
// PostgreSQL refuses other text outright, which answered such a request with a 500 (and, in a
// statement shared by organizations, failed the others' reads with it). The store's reads answer
// it as matching nothing instead, on both stores alike.
func namesNothing(keys ...string) bool {
	for _, k := range keys {
		if !utf8.ValidString(k) || strings.IndexByte(k, 0) >= 0 {
			return true
		}
	}
	return false
}
