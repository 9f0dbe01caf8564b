package store

import (
	"strings"
	"unicode/utf8"
)

// Bounds of what one audit event records. Several of its fields carry what a client sent (a
// path, a User-Agent, an error's detail quoting a sortBy or a PATCH path), and every
// organization's events share one writer and one table: an event may not grow with a request.
const (
	MaxAuditText       = 512  // path, resource id, client, source: real ones are far shorter
	MaxAuditDetail     = 1024 // an error's detail, as the client was told it
	MaxAuditAttributes = 64   // names of changed attributes: a schema has fewer top-level ones
	MaxAuditName       = 128  // one attribute's name
)

// Bounded returns e with every client-supplied field cut to its bound; e itself is not changed.
func (e AuditEvent) Bounded() AuditEvent {
	e.Client, e.Path = Clip(e.Client, MaxAuditText), Clip(e.Path, MaxAuditText)
	e.ResourceID, e.Source = Clip(e.ResourceID, MaxAuditText), Clip(e.Source, MaxAuditText)
	e.Detail = Clip(e.Detail, MaxAuditDetail)
	if len(e.Attributes) > MaxAuditAttributes || anyLonger(e.Attributes, MaxAuditName) {
		names := make([]string, 0, min(len(e.Attributes), MaxAuditAttributes))
		for _, n := range e.Attributes[:min(len(e.Attributes), MaxAuditAttributes)] {
			names = append(names, Clip(n, MaxAuditName))
		}
		e.Attributes = names
	}
	return e
}

// Clip cuts s to at most n bytes of storable text, ending in "…" when it was cut.
func Clip(s string, n int) string {
	s = Storable(s)
	if len(s) <= n {
		return s
	}
	const mark = "…"
	// A rune cut in two leaves invalid bytes at the end, which ToValidUTF8 drops.
	return strings.ToValidUTF8(s[:max(n-len(mark), 0)], "") + mark
}

// Storable is s as both stores keep text: valid UTF-8 without NUL characters. PostgreSQL refuses
// any other text outright, and the events of every organization share a statement: one
// request's path carrying %00 failed them all (docs/security.md).
func Storable(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
}

func anyLonger(names []string, n int) bool {
	for _, s := range names {
		if len(s) > n {
			return true
		}
	}
	return false
}
