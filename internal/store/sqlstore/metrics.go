package sqlstore

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Store metrics (docs/observability.md): how long write transactions take to commit, how many
// writes share a commit (SQLite's group commit; PostgreSQL commits each write alone), and commits
// the database refused. They have no labels: one store per process.
var (
	commitDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "eio_store_commit_duration_seconds",
		Help:    "Time from beginning a write transaction to its commit, per committed transaction.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	commitBatchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "eio_store_commit_batch_size",
		Help:    "Writes committed together in one transaction (SQLite group commit; 1 on PostgreSQL).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, maxBatch},
	})
	commitErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "eio_store_commit_errors_total",
		Help: "Write transactions the database failed to begin or commit (not writes refused for their content, such as a conflict).",
	})
)

// RegisterMetrics adds the store metrics to reg (controller-runtime's registry in the operator).
// Registering twice (several managers in one test process) keeps the first.
func RegisterMetrics(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{commitDuration, commitBatchSize, commitErrors} {
		if err := reg.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// observeCommit records a transaction of n writes begun at start: its duration and size when it
// committed (err nil), an error otherwise.
func observeCommit(start time.Time, n int, err error) {
	if err != nil {
		commitErrors.Inc()
		return
	}
	commitDuration.Observe(time.Since(start).Seconds())
	commitBatchSize.Observe(float64(n))
}
