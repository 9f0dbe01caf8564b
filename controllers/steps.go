package controllers

import (
	"context"
	"errors"
	"time"
)

// step is one ordered phase of a reconciliation. Returning errStop ends the pass quietly (the
// phase has said why in a condition, and a watch will bring the object back); any other error
// ends it and is retried with backoff.
type step[S any] func(ctx context.Context, s S) error

var errStop = errors.New("stop reconciling this pass")

// runSteps runs steps in order until one stops or fails.
func runSteps[S any](ctx context.Context, s S, steps ...step[S]) error {
	for _, st := range steps {
		if err := st(ctx, s); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// requeue collects when a pass wants to run again: the earliest of what its steps asked for.
type requeue struct{ after time.Duration }

func (q *requeue) in(d time.Duration) {
	if d <= 0 {
		d = time.Second
	}
	if q.after == 0 || d < q.after {
		q.after = d
	}
}

// conflictRetry is how soon a pass whose status write lost a race runs again.
const conflictRetry = 200 * time.Millisecond
