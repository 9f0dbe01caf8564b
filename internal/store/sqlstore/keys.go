package sqlstore

import "unicode/utf8"

// namesNothing reports whether any of a client's keys or filter values (a resource id from a URL,
// an audit or member list's action, resource, state or cursor) cannot match a stored row: every id
// the service makes is ASCII and every stored text is valid UTF-8, and PostgreSQL refuses text
// that is not outright, which answered such a request with a 500. The store's reads answer it as
// matching nothing instead, on both stores alike.
func namesNothing(keys ...string) bool {
	for _, k := range keys {
		if !utf8.ValidString(k) {
			return true
		}
	}
	return false
}
