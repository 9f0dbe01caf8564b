package events

import (
	"sync"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// A pair with nothing to send still cost a run: its delivery state and its pending events, about
// five statements per (subscription, organization) every interval, the deliverer's workers
// reading the store without pause once there are a few hundred pairs. So every interval one
// statement reads where every pair stands beside its organization's newest event, and a pair
// already at it, or waiting for a retry not yet due, is passed over until the next read. A pair
// that sent since the read is not at the position read, so it runs; a replay (by the admin API,
// on any replica) shows at the next read.

// idlePairs holds the latest read of the pairs' positions.
type idlePairs struct {
	mu        sync.Mutex
	positions map[pairKey]store.DeliveryPosition
}

// set takes a read of the positions (none after a failed read: every pair runs).
func (p *idlePairs) set(positions []store.DeliveryPosition) {
	byPair := make(map[pairKey]store.DeliveryPosition, len(positions))
	for _, pos := range positions {
		byPair[pairKey{subscription: pos.Subscription, org: pos.Org}] = pos
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.positions = byPair
}

// skip says whether the pair has nothing to do now: at its organization's newest event, or
// waiting for a retry not yet due, as last read.
func (p *idlePairs) skip(k pairKey, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	pos, ok := p.positions[k]
	if !ok {
		return false // not started yet, or unknown
	}
	if !pos.NextAttempt.IsZero() {
		return now.Before(pos.NextAttempt)
	}
	return pos.DeliveredSeq == pos.LatestSeq
}
