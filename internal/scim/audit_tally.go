package scim

import (
	"strconv"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// auditTally folds the events of identical requests that arrive between two flushes of the audit
// writer (100 ms) into one event with a count. An identity provider checking whether a user
// exists before every create sends thousands of such reads a second; recording each as a row of
// its own cost a busy PostgreSQL a third of its work and the manager a tenth of its CPU, and grew
// the audit log by the row per read. A folded event keeps everything the requests had in common
// (organization, token, client, method, path, resource, outcome) and the time and request id of
// the latest of them. Requests that differ in anything recorded stay apart, and so do the
// requests of different organizations, whatever else they share. Only the writer's goroutine
// uses a tally.
type auditTally struct {
	index  map[tallyKey]int // where a key's event is in events
	events []store.AuditEvent
}

// tallyKey is everything an audit event records except its time, request id and count, and the
// binding it is recorded under (its fence).
type tallyKey struct {
	org, action, client, token, method, path, resourceType, resourceID string
	binding                                                            store.Binding
	status                                                             int
	scimType, detail, source, attributes                               string
}

func keyOf(e *store.AuditEvent) tallyKey {
	return tallyKey{
		org: e.Org, binding: e.Binding, action: e.Action, client: e.Client, token: e.TokenFingerprint, method: e.Method, path: e.Path,
		resourceType: e.ResourceType, resourceID: e.ResourceID, status: e.Status, scimType: e.ScimType, detail: e.Detail,
		source: e.Source, attributes: joinNames(e.Attributes),
	}
}

// joinNames joins names so that no two lists join alike: each is preceded by its length.
func joinNames(names []string) string {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(strconv.Itoa(len(n)))
		b.WriteByte(':')
		b.WriteString(n)
	}
	return b.String()
}

// add counts e and reports how many distinct events the tally holds.
func (t *auditTally) add(e store.AuditEvent) int {
	if t.index == nil {
		t.index = map[tallyKey]int{}
	}
	k := keyOf(&e)
	if i, ok := t.index[k]; ok {
		held := &t.events[i]
		held.Count = max(held.Count, 1) + max(e.Count, 1)
		if !e.Time.Before(held.Time) {
			held.Time, held.RequestID = e.Time, e.RequestID
		}
		return len(t.events)
	}
	t.index[k] = len(t.events)
	t.events = append(t.events, e)
	return len(t.events)
}

// drain returns the tallied events and empties the tally; the slice is the caller's until the
// next add.
func (t *auditTally) drain() []store.AuditEvent {
	out := t.events
	t.events = t.events[:0]
	clear(t.index)
	return out
}
