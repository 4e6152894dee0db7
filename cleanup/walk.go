package cleanup

// The walk of one step: batch after batch, on one range of the table or
// on several at once (workers).

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// runStep deletes batch after batch until the walk reaches the end of the
// table: with Workers > 1, on disjoint ranges of the table at once, each
// batch still its own transaction on its own connection. Each batch runs
// to its commit even if ctx is cancelled meanwhile, so an interrupted run
// leaves whole batches only; ctx is checked between batches and during
// the pause.
//
// It reports spent when the time budget (MaxDuration, counted from the
// run's start) ran out before the step was complete.
// stepAt is a step's place among those that run: number of of.
type stepAt struct{ number, of int }

// throttles are what hold a run's batches back: the standbys' lag, the
// rate limit.
type throttles struct {
	replicas *replicaThrottle
	pace     *pacer
}

func runStep(ctx context.Context, o Options, st *StepReport, runStart time.Time, sess *session, th throttles, at stepAt) (spent bool, err error) {
	start := time.Now()
	defer func() { st.Duration = time.Since(start) }()
	ranges := []store.Range{{}}
	if o.Workers > 1 {
		p := store.PartitionParams{Target: st.Target, Cutoff: st.Cutoff, Parts: o.Workers * rangesPerWorker}
		if ranges, err = o.Store.Partition(ctx, p); err != nil {
			return false, fmt.Errorf("step %s: %w", st.Name, err)
		}
	}
	w := &stepWalk{o: o, st: st, start: start, runStart: runStart, sess: sess, replicas: th.replicas, pace: th.pace, at: at, single: len(ranges) == 1}
	if len(ranges) == 1 {
		complete, spent, err := w.walk(ctx, ranges[0])
		st.Complete = complete
		return spent, err
	}
	// The workers take ranges from a queue until it is empty, and stop
	// together: the first error (or the budget) ends the others after
	// their batch in flight.
	queue := make(chan store.Range, len(ranges))
	for _, r := range ranges {
		queue <- r
	}
	close(queue)
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	allComplete := true
	for range min(o.Workers, len(ranges)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range queue {
				if wctx.Err() != nil {
					mu.Lock()
					allComplete = false // taken, never walked
					mu.Unlock()
					return
				}
				complete, sp, err := w.walk(wctx, r)
				mu.Lock()
				allComplete = allComplete && complete
				spent = spent || sp
				// A worker that stopped because another did has nothing to add.
				if err != nil && firstErr == nil && wctx.Err() == nil {
					firstErr = err
				}
				mu.Unlock()
				if err != nil || sp {
					cancel(errStopped)
					return
				}
			}
		}()
	}
	wg.Wait()
	// A range still in the queue was never walked either.
	st.Complete = allComplete && len(queue) == 0 && firstErr == nil && !spent
	if firstErr == nil && ctx.Err() != nil {
		return spent, ctx.Err()
	}
	return spent, firstErr
}

// rangesPerWorker: the table is cut into this many ranges per worker, and
// each worker takes the next range when it is done with one, so the
// workers share the work however the matches lie (a time-ordered backlog
// has them all at the start of the table, where equal halves would give
// one worker everything).
const rangesPerWorker = 8

// errStopped is how a worker tells the others to stop.
var errStopped = errors.New("another worker stopped")

// stepWalk is one step's walk; its counts are shared by its workers.
type stepWalk struct {
	o               Options
	st              *StepReport
	start, runStart time.Time
	sess            *session
	at              stepAt
	// single: one worker walks the whole table, so its position is the
	// step's progress.
	single   bool
	replicas *replicaThrottle
	pace     *pacer
	mu       sync.Mutex // st, OnBatch, the replica throttle
}

// walk runs the batches of one range to its end.
func (w *stepWalk) walk(ctx context.Context, r store.Range) (complete, spent bool, err error) {
	o, st := w.o, w.st
	batchCtx := context.WithoutCancel(ctx)
	cursor := r.From
	first, firstSeen := int64(0), false // where the walk was after its first batch
	for {
		if err := ctx.Err(); err != nil {
			return false, false, err
		}
		if o.MaxDuration > 0 && time.Since(w.runStart) >= o.MaxDuration {
			return false, true, nil
		}
		if err := w.sess.check(ctx); err != nil {
			return false, false, fmt.Errorf("step %s: stopped: %w", st.Name, err)
		}
		w.mu.Lock()
		spent, err := w.replicas.wait(ctx, st.Name, w.runStart)
		w.mu.Unlock()
		if err != nil || spent {
			return false, spent, err
		}
		if err := w.pace.wait(ctx); err != nil {
			return false, false, err
		}
		var retries int
		res, err := fenced(ctx, w.sess, func(lock store.Unlocker) (store.DeleteBatchResult, error) {
			p := store.DeleteBatchParams{Target: st.Target, Cutoff: st.Cutoff, Max: o.batchMax(), After: cursor, Until: r.Until, Lock: lock}
			return deleteWithRetry(ctx, batchCtx, o, st.Name, p, &retries)
		})
		w.mu.Lock()
		st.Retries += retries
		if err != nil {
			w.mu.Unlock()
			return false, false, err
		}
		st.Batches++
		st.Deleted += res.Deleted
		w.pace.spent(res.Deleted)
		total := st.Deleted
		if o.OnBatch != nil {
			ev := BatchEvent{Step: st.Name, Deleted: res.Deleted, StepDeleted: total, StepDuration: time.Since(w.start),
				Message: st.Message, StepNumber: w.at.number, Steps: w.at.of}
			// Progress is measured from the first batch on, so that a
			// table whose ids start high still counts from 0.
			switch {
			case !w.single:
			case res.Done:
				ev.Fraction = 1
			case res.Total <= 0:
			case !firstSeen:
				first, firstSeen = res.Walked, true
			case res.Total > first:
				ev.Fraction = min(1, float64(res.Walked-first)/float64(res.Total-first))
			}
			o.OnBatch(ev)
		}
		w.mu.Unlock()
		cursor = res.Next
		if o.Logger != nil {
			o.Logger.Debug("batch committed", "step", st.Name, "deleted", res.Deleted, "step_total", total, "cursor", string(cursor))
		}
		if res.Done {
			return true, false, nil
		}
		if o.BatchInterval > 0 {
			if err := sleep(ctx, o.BatchInterval); err != nil {
				return false, false, err
			}
		}
	}
}

// countStep is a step of a dry run: one count, nothing deleted.
func countStep(ctx context.Context, o Options, st *StepReport, earlier []store.Step, at stepAt) error {
	start := time.Now()
	n, err := o.Store.CountMatches(ctx, store.CountMatchesParams{Step: store.Step{Target: st.Target, Cutoff: st.Cutoff}, Earlier: earlier})
	st.Duration = time.Since(start)
	if err != nil {
		return fmt.Errorf("step %s: %w", st.Name, err)
	}
	st.Deleted, st.Complete = n, true
	if o.OnBatch != nil {
		o.OnBatch(BatchEvent{Step: st.Name, Deleted: n, StepDeleted: n, StepDuration: st.Duration, Message: st.Message, StepNumber: at.number, Steps: at.of, Fraction: 1})
	}
	return nil
}

// deleteWithRetry runs one batch, retrying transient failures with a
// doubling pause. Retrying from the same cursor is safe: a failed attempt
// was rolled back, or (its COMMIT's answer lost) committed, and then the
// retry finds nothing left to do where it did its work.
func deleteWithRetry(ctx, batchCtx context.Context, o Options, step string, p store.DeleteBatchParams, retries *int) (store.DeleteBatchResult, error) {
	res, err := runBatch(ctx, batchCtx, o.control(), retries, func(ctx context.Context) (store.DeleteBatchResult, error) {
		return o.Store.DeleteBatch(ctx, p)
	})
	if err != nil && ctx.Err() == nil {
		return res, fmt.Errorf("step %s: %w", step, err)
	}
	return res, err
}
