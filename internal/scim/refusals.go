package scim

import (
	"strconv"
	"sync"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Refused requests cost the client nothing, so each used to become an audit row with its whole
// path: 300 requests with a wrong token and a 60 KB path grew the database by 19 MB. Refusals are
// now counted in memory and recorded as aggregates: one row per organization, source, status and
// minute, carrying the first request's method, path (cut to maxRefusalPath) and client, with a
// count. At most maxRefusalSources sources of an organization get rows of their own in a minute;
// the rest share one "other" row per status. So however many addresses send, a minute of refusals
// adds at most (maxRefusalSources + 1) rows per organization and status (401, 403, 429).
const (
	maxRefusalSources = 8
	maxRefusalPath    = 256
	maxRefusalClient  = 128
	otherSources      = "other"
)

type refusalKey struct {
	org, source string
	status      int
	minute      int64
}

type refusalCount struct {
	event   store.AuditEvent
	pending int // refusals not yet recorded
}

// refusals aggregates refused requests between flushes; safe for concurrent use.
type refusals struct {
	mu      sync.Mutex
	minute  int64
	counts  map[refusalKey]*refusalCount
	sources map[string]map[string]bool // this minute's sources with rows, per organization
}

// add counts a refusal; e carries the organization, time, status and request description.
func (a *refusals) add(e store.AuditEvent, source string) {
	minute := e.Time.Unix() / 60
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.counts == nil {
		a.counts = map[refusalKey]*refusalCount{}
	}
	if minute != a.minute {
		a.minute, a.sources = minute, map[string]map[string]bool{}
	}
	seen := a.sources[e.Org]
	if seen == nil {
		seen = map[string]bool{}
		a.sources[e.Org] = seen
	}
	if !seen[source] {
		if len(seen) >= maxRefusalSources {
			source = otherSources
		} else {
			seen[source] = true
		}
	}
	k := refusalKey{org: e.Org, source: source, status: e.Status, minute: minute}
	c := a.counts[k]
	if c == nil {
		e.Path = truncateUTF8(e.Path, maxRefusalPath)
		e.Client = truncateUTF8(e.Client, maxRefusalClient)
		e.ResourceID, e.Attributes, e.Source = "", nil, source
		c = &refusalCount{event: e}
		a.counts[k] = c
	}
	c.event.Time = e.Time
	c.pending++
}

// drain returns the counts added since the last drain, as store refusals keyed by status, source
// and minute, and forgets the aggregates of past minutes.
func (a *refusals) drain() []store.Refusal {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []store.Refusal
	for k, c := range a.counts {
		if c.pending > 0 {
			e := c.event
			e.Count = c.pending
			out = append(out, store.Refusal{Key: strconv.Itoa(k.status) + " " + k.source + " " + strconv.FormatInt(k.minute, 10), Event: e})
			c.pending = 0
		}
		if k.minute < a.minute {
			delete(a.counts, k)
		}
	}
	return out
}
