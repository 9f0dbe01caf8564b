package sqlstore

import "unicode/utf8"

// namesNothing reports a key from a client (a resource id, a member id from a URL) that cannot
// name a stored row: every id the service makes is ASCII, and PostgreSQL refuses text that is not
// valid UTF-8 outright, which answered a request for such an id with a 500 instead of a 404.
func namesNothing(key string) bool { return !utf8.ValidString(key) }
