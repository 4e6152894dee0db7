package cleanup

import (
	"context"
	"errors"
	"time"
)

// RunEvery runs Clear at once and then every interval until ctx ends, for
// a long-lived process (a sidecar, a service, an embedding server). Each
// run takes the single-runner lock as opts.Lock says; a run that finds it
// held (ErrLocked) or fails is handed to onRun and tried again on the next
// tick. opts.Now is ignored: every run reads the clock. RunEvery returns
// ctx's error when ctx ends (after the batch in flight).
func RunEvery(ctx context.Context, interval time.Duration, opts Options, onRun func(Report, error)) error {
	if interval <= 0 {
		return errors.New("RunEvery: the interval must be positive")
	}
	opts.Now = time.Time{}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rep, err := Clear(ctx, opts)
		if onRun != nil {
			onRun(rep, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
