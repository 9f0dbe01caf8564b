package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// summaryRefresh is the longest an organization's summary goes without a full refresh, even when
// the store says nothing happened (a safety net, and what moves time-window conditions on).
const summaryRefresh = 10 * time.Minute

// summaryMarks remembers, per ScimIntegration, the store's activity mark and the generation at its
// last full summary. An idle organization's periodic pass then costs one index probe instead of
// the summary's seven queries: with a thousand organizations, that is most of the manager's CPU
// at rest.
type summaryMarks struct {
	mu    sync.Mutex
	marks map[types.UID]summaryMark
	swept int
}

type summaryMark struct {
	activity   store.ActivityMark
	generation int64
	at         time.Time
}

// fresh reports whether the last full summary of uid still stands.
func (s *summaryMarks) fresh(uid types.UID, activity store.ActivityMark, generation int64, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.marks[uid]
	return ok && m.activity == activity && m.generation == generation && now.Sub(m.at) < summaryRefresh
}

// record notes a full summary. Entries of integrations gone for long are swept once the map has
// doubled since the last sweep, so it stays the size of the integrations that exist.
func (s *summaryMarks) record(uid types.UID, activity store.ActivityMark, generation int64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.marks == nil {
		s.marks = map[types.UID]summaryMark{}
	}
	s.marks[uid] = summaryMark{activity: activity, generation: generation, at: now}
	if len(s.marks) > 2*max(s.swept, 64) {
		for k, m := range s.marks {
			if now.Sub(m.at) > 3*summaryRefresh {
				delete(s.marks, k)
			}
		}
		s.swept = len(s.marks)
	}
}

// forget drops an integration's mark (it is being deleted).
func (s *summaryMarks) forget(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.marks, uid)
}
