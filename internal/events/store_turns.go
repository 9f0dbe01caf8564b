package events

import (
	"context"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// maxStoreCalls bounds the deliverer's store calls at once. Its workers mostly wait on receivers,
// so there are many of them (defaultWorkers); their reads and records take turns, so that however
// many runs are due together they never hold more than this many of the store's connections, and
// the SCIM traffic keeps the rest (a replica has at least four: pool_max_conns). A call takes
// milliseconds, so two serve hundreds of runs a second.
const maxStoreCalls = 2

// storeTurns is the store as the deliverer uses it: its delivery calls in turns.
type storeTurns struct {
	store.Store
	turns chan struct{}
}

func newStoreTurns(s store.Store) *storeTurns {
	return &storeTurns{Store: s, turns: make(chan struct{}, maxStoreCalls)}
}

func (s *storeTurns) take(ctx context.Context) error {
	select {
	case s.turns <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *storeTurns) give() { <-s.turns }

func (s *storeTurns) DeliveryPositions(ctx context.Context) ([]store.DeliveryPosition, error) {
	if err := s.take(ctx); err != nil {
		return nil, err
	}
	defer s.give()
	return s.Store.DeliveryPositions(ctx)
}

func (s *storeTurns) Delivery(ctx context.Context, subscription, org string, created time.Time) (*store.Delivery, error) {
	if err := s.take(ctx); err != nil {
		return nil, err
	}
	defer s.give()
	return s.Store.Delivery(ctx, subscription, org, created)
}

func (s *storeTurns) Events(ctx context.Context, org string, after int64, limit int) ([]store.EventRecord, error) {
	if err := s.take(ctx); err != nil {
		return nil, err
	}
	defer s.give()
	return s.Store.Events(ctx, org, after, limit)
}

func (s *storeTurns) RecordDelivery(ctx context.Context, subscription, org string, seq int64, o store.DeliveryOutcome) error {
	if err := s.take(ctx); err != nil {
		return err
	}
	defer s.give()
	return s.Store.RecordDelivery(ctx, subscription, org, seq, o)
}

// store is the store in the deliverer's turns.
func (d *Deliverer) store() store.Store {
	d.turnsOnce.Do(func() { d.turns = newStoreTurns(d.Store) })
	return d.turns
}
