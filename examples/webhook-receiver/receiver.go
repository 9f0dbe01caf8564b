package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

const (
	// maxBody bounds what we read: events are a few kilobytes.
	maxBody = 1 << 20
	// fillTimeout keeps a gap fill well inside the operator's 10 s delivery timeout.
	fillTimeout = 5 * time.Second
	// seenCapacity is how many event ids the in-memory set remembers.
	seenCapacity = 10000
)

// Applier is the application: it makes one event true in its own data.
type Applier interface {
	Apply(ctx context.Context, ev Event) error
}

// Receiver is the webhook endpoint: verify, deduplicate, order, apply, answer.
type Receiver struct {
	verifier *standardwebhooks.Webhook
	app      Applier
	events   *EventsAPI // fills sequence gaps; nil: gaps are logged only
	log      *slog.Logger

	seen *seenIDs
	mu   sync.Mutex
	orgs map[string]*orgState
}

// orgState is where an organization's stream stands. A real application keeps lastApplied in its
// database, updated in the same transaction as the change the event made.
type orgState struct {
	mu          sync.Mutex // one event of an organization at a time, so they apply in order
	lastApplied int64      // 0: nothing applied yet; the first event received sets the start
}

// NewReceiver returns a receiver verifying with verifier and applying to app.
func NewReceiver(verifier *standardwebhooks.Webhook, app Applier, events *EventsAPI, log *slog.Logger) *Receiver {
	return &Receiver{verifier: verifier, app: app, events: events, log: log, seen: newSeenIDs(seenCapacity), orgs: map[string]*orgState{}}
}

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "unreadable or too large body", http.StatusRequestEntityTooLarge)
		return
	}
	// Verify the raw bytes, before parsing: the signature covers exactly the bytes sent. Verify also
	// refuses a timestamp more than 5 minutes off, so a captured request cannot be replayed later.
	if err := rc.verifier.Verify(body, r.Header); err != nil {
		rc.log.Warn("Refused a webhook", "webhookID", r.Header.Get(standardwebhooks.HeaderWebhookID), "error", err)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Organization == "" || ev.Sequence < 1 {
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	// Both are signed; they differ only through a bug, and the id is what we deduplicate on.
	if ev.ID != r.Header.Get(standardwebhooks.HeaderWebhookID) {
		http.Error(w, "webhook-id does not match the event id", http.StatusBadRequest)
		return
	}
	if err := rc.receive(r.Context(), ev); err != nil {
		// Not acknowledged: the operator sends this event again later, and nothing after it meanwhile.
		rc.log.Error("Could not apply an event; the operator will retry", "id", ev.ID, "organization", ev.Organization, "error", err)
		http.Error(w, "try again later", http.StatusServiceUnavailable)
		return
	}
	// Any 2xx acknowledges. Answer fast: the operator gives up on an attempt after 10 s and retries.
	w.WriteHeader(http.StatusNoContent)
}

func (rc *Receiver) receive(ctx context.Context, ev Event) error {
	org := rc.org(ev.Organization)
	org.mu.Lock()
	defer org.mu.Unlock()

	// Delivery is at least once: a retry after a lost acknowledgement brings the same id again.
	if rc.seen.has(ev.ID) {
		rc.log.Info("Duplicate event acknowledged", "id", ev.ID)
		return nil
	}
	// Already applied (fetched from the Events API to fill a gap), or a dead letter replayed after
	// newer events: each event carries its subject's state at that point, so applying an older one
	// now would roll the subject back.
	if ev.Sequence <= org.lastApplied {
		rc.log.Info("Event already applied or superseded", "id", ev.ID, "sequence", ev.Sequence, "lastApplied", org.lastApplied)
		return nil
	}
	if org.lastApplied > 0 && ev.Sequence > org.lastApplied+1 {
		if err := rc.fill(ctx, ev.Organization, org, ev.Sequence); err != nil {
			return err
		}
	}
	return rc.apply(ctx, org, ev)
}

// fill applies the events between lastApplied and before (exclusive) from the Events API.
//
// A gap is normal: the subscription's types filter leaves out the others, and an event that
// was dead-lettered is skipped. The Events API has every event of the organization
// (within its retention), so the application sees the whole stream; Apply ignores the types it does not use.
func (rc *Receiver) fill(ctx context.Context, orgName string, org *orgState, before int64) error {
	if rc.events == nil {
		rc.log.Warn("Sequence gap, not filled (no Events API configured)", "organization", orgName, "after", org.lastApplied, "before", before)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, fillTimeout)
	defer cancel()
	for org.lastApplied < before-1 {
		page, _, err := rc.events.Page(ctx, orgName, org.lastApplied, int(min(before-1-org.lastApplied, 500)))
		if err != nil {
			return fmt.Errorf("filling the gap after sequence %d: %w", org.lastApplied, err)
		}
		if len(page) == 0 || page[0].Sequence >= before {
			break // nothing more to fill (it cannot happen while the operator numbers without gaps)
		}
		if page[0].Sequence != org.lastApplied+1 {
			// Older than the organization's event retention: events are lost to us. Rebuild from
			// GET …/members (docs/events.md, "Rebuilding state"); here we carry on from what is left.
			rc.log.Error("Events expired before we read them; rebuild from the members list",
				"organization", orgName, "missingFrom", org.lastApplied+1, "missingTo", page[0].Sequence-1)
		}
		from := org.lastApplied
		for _, e := range page {
			if e.Sequence >= before {
				break
			}
			if e.Sequence <= org.lastApplied {
				continue
			}
			if err := rc.apply(ctx, org, e); err != nil {
				return err
			}
		}
		if org.lastApplied == from {
			break // no progress: do not loop on a page we cannot use
		}
	}
	return nil
}

func (rc *Receiver) apply(ctx context.Context, org *orgState, ev Event) error {
	if err := rc.app.Apply(ctx, ev); err != nil {
		return fmt.Errorf("applying %s %s: %w", ev.Type, ev.ID, err)
	}
	// A real application writes the id and lastApplied in the transaction of the change itself, so a
	// crash in between neither loses the event nor applies it twice.
	org.lastApplied = ev.Sequence
	rc.seen.add(ev.ID)
	return nil
}

func (rc *Receiver) org(name string) *orgState {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	o := rc.orgs[name]
	if o == nil {
		o = &orgState{}
		rc.orgs[name] = o
	}
	return o
}

// seenIDs remembers the latest n event ids, forgetting the oldest first. Redeliveries come within
// spec.retryFor (72h by default) and replays of dead letters within the event retention (30 days):
// a real application keeps processed ids in a table with a unique key for as long, and prunes older ones.
// Here the sequence check in receive still catches a duplicate this set has forgotten.
type seenIDs struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string
	next int
}

func newSeenIDs(n int) *seenIDs {
	return &seenIDs{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (s *seenIDs) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}

func (s *seenIDs) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; ok {
		return
	}
	delete(s.ids, s.ring[s.next])
	s.ring[s.next] = id
	s.ids[id] = struct{}{}
	s.next = (s.next + 1) % len(s.ring)
}
