package cleanup

import (
	"context"
	"fmt"
	"time"
)

// MinInterval is the shortest interval RunEvery takes.
const MinInterval = time.Second

// ValidateEvery reports what RunEvery would refuse: an interval shorter
// than MinInterval, a fixed Now (every run reads the clock), a MaxDuration
// not shorter than the interval, or any setting Validate refuses.
func ValidateEvery(interval time.Duration, opts Options) error {
	switch {
	case interval < MinInterval:
		return &OptionError{Field: "interval", Value: interval, Problem: fmt.Sprintf("must be at least %s (runs back to back would spin)", MinInterval)}
	case !opts.Now.IsZero():
		return &OptionError{Field: "Options.Now", Value: opts.Now.UTC().Format(time.RFC3339), Problem: "is fixed: repeated runs each read the clock, and a fixed Now would freeze it"}
	case opts.MaxDuration >= interval:
		return &OptionError{Field: "Options.MaxDuration", Value: opts.MaxDuration, Problem: fmt.Sprintf("must be shorter than the interval %s", interval)}
	}
	return opts.Validate()
}

// RunEvery runs Clear at once and then every interval until ctx ends, for
// a long-lived process (a sidecar, a service, an embedding server). Each
// run takes the single-runner lock as opts.Lock says; a run that finds it
// held (ErrLocked) or fails is handed to onRun and tried again on the next
// tick. Every run reads the clock (opts.Now must be zero). RunEvery returns
// ctx's error when ctx ends (after the batch in flight).
func RunEvery(ctx context.Context, interval time.Duration, opts Options, onRun func(Report, error)) error {
	if err := ValidateEvery(interval, opts); err != nil {
		return err
	}
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
