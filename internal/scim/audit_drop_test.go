package scim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// blockingStore holds RecordAudit until released, then fails it.
type blockingStore struct {
	store.Store
	release chan struct{}
}

func (b *blockingStore) RecordAudit(context.Context, []store.AuditEvent) error {
	<-b.release
	return errors.New("the store is down")
}

func (b *blockingStore) RecordRefusals(context.Context, []store.Refusal) error { return nil }

// Events the audit queue cannot take, and batches the store refuses, are counted and logged,
// never lost silently.
func TestLostAuditEventsAreCountedAndLogged(t *testing.T) {
	var logged bytes.Buffer
	st := &blockingStore{release: make(chan struct{})}
	s := &Server{Store: st, Log: slog.New(slog.NewTextHandler(&logged, nil))}
	s.init()
	const sent = 6000 // above the queue (4096) and the batch (256) together
	for i := range sent {
		// Reads of distinct users: identical reads would fold into one event and never fill a batch.
		s.audit.record(st, &store.AuditEvent{Org: "org", Action: "user.read", ResourceID: strconv.Itoa(i)})
	}
	queued := sent - int(s.DroppedAuditEvents())
	if s.DroppedAuditEvents() == 0 {
		t.Fatal("a full queue dropped nothing")
	}
	close(st.release) // every batch now fails: the queued events are lost too
	s.Close()
	if got := s.DroppedAuditEvents(); got != sent {
		t.Fatalf("%d events lost of %d sent (%d queued then refused by the store)", got, sent, queued)
	}
	if !strings.Contains(logged.String(), "Audit events were lost") || !strings.Contains(logged.String(), "lostSinceStart=6000") {
		t.Fatalf("no log line about the lost events: %s", logged.String())
	}
}

// A refused batch loses every request its events stand for, folded ones included.
func TestLostFoldedAuditEventsCountEveryRequest(t *testing.T) {
	st := &blockingStore{release: make(chan struct{})}
	s := &Server{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.init()
	const sent = 1000 // identical: they fold into one event
	for range sent {
		s.audit.record(st, &store.AuditEvent{Org: "org", Action: "user.list", Status: 200})
	}
	close(st.release)
	s.Close()
	if got := s.DroppedAuditEvents(); got != sent {
		t.Fatalf("%d requests counted as lost of %d", got, sent)
	}
}

// One organization reading distinct users faster than the store takes their audit events fills
// only its share of the queue: another organization's read is still recorded.
func TestOneOrganizationCannotFillTheAuditQueue(t *testing.T) {
	st := &blockingStore{release: make(chan struct{})}
	s := &Server{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.init()
	for i := range 6000 {
		s.audit.record(st, &store.AuditEvent{Org: "noisy", Action: "user.read", ResourceID: strconv.Itoa(i)})
	}
	dropped := s.DroppedAuditEvents()
	if dropped == 0 {
		t.Fatal("the noisy organization's events were all queued")
	}
	s.audit.record(st, &store.AuditEvent{Org: "quiet", Action: "user.read", ResourceID: "u1"})
	if got := s.DroppedAuditEvents(); got != dropped {
		t.Fatalf("the quiet organization's read was dropped (%d lost, %d before it)", got, dropped)
	}
	close(st.release)
	s.Close()
}
