package cleanup

// Retrying a batch after a transient failure.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// runBatch runs one batch with the run's statement timeout, retrying it
// after transient failures; each retry is counted in *retries. The batch
// runs on batchCtx (which a cancelled run does not cancel, so a batch in
// flight commits); ctx only ends the pauses between attempts.
func runBatch[T any](ctx, batchCtx context.Context, c control, retries *int, fn func(context.Context) (T, error)) (T, error) {
	return retry(ctx, c.retries, c.retryBackoff, c.logger, retries, func() (T, error) {
		attempt, cancel := batchCtx, context.CancelFunc(func() {})
		if c.statementTimeout > 0 {
			attempt, cancel = context.WithTimeout(batchCtx, c.statementTimeout)
		}
		defer cancel()
		return fn(attempt)
	})
}

// retry runs fn again after a transient failure (store.ErrTransient) with
// a doubling pause, up to retries times. Trying again is safe: a batch
// re-checks its rows' condition, so an attempt that was rolled back (or
// committed, its answer lost) is simply done again (or finds no work).
func retry[T any](ctx context.Context, retries int, backoff time.Duration, logger *slog.Logger, count *int, fn func() (T, error)) (T, error) {
	pause := backoff
	for attempt := 0; ; attempt++ {
		res, err := fn()
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, store.ErrTransient) || attempt >= retries {
			if attempt > 0 {
				return res, fmt.Errorf("batch failed after %d retries: %w", attempt, err)
			}
			return res, err
		}
		*count++
		if logger != nil {
			logger.Warn("batch failed, retrying", "attempt", attempt+1, "pause", pause, "error", err)
		}
		if err := sleep(ctx, pause); err != nil {
			return res, err
		}
		pause = min(pause*2, backoff*30)
	}
}
