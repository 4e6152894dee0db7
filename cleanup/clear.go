package cleanup

// Clear: one cleartokens run from its options to its report.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// Clear runs DOT's cleartokens on opts.Store. On cancellation it stops
// between batches and returns the report so far with an error matching
// both ErrInterrupted and the context's error.
func Clear(ctx context.Context, opts Options) (Report, error) {
	start := time.Now()
	if err := opts.validate(); err != nil {
		return Report{}, err
	}
	sess, err := begin(ctx, opts.Store, opts.control(), LockName, ErrLocked)
	if err != nil {
		return Report{Interrupted: errors.Is(err, ErrInterrupted)}, err
	}
	defer sess.release()
	th := throttles{replicas: &replicaThrottle{o: &opts}, pace: newPacer(opts.MaxRowsPerSecond)}
	// now is read after the lock: a run that waited compares with the time
	// it starts working, as a run started then would.
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.Add(-opts.KeepIfYounger)
	rules, reason, err := resolveRules(ctx, opts.Store, opts.Rules)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Rules: rules, RulesReason: reason, Now: now, DryRun: opts.DryRun}
	hasPAR, err := opts.Store.HasTable(ctx, store.HasTableParams{Role: store.RolePAR})
	if err != nil {
		return Report{}, fmt.Errorf("look for the pushed authorization request table: %w", err)
	}
	steps := plan(rules, opts, now, hasPAR)
	if rules == RulesDOT34 && opts.RefreshTokenExpire == 0 && (len(opts.Only) == 0 || slices.Contains(opts.Only, KindRefresh)) {
		rep.Warnings = append(rep.Warnings, WarnNoExpiry)
	}
	toRun := 0
	for i := range steps {
		if st := &steps[i]; !st.Skipped && len(opts.Only) > 0 && !slices.Contains(opts.Only, st.kind()) {
			st.Skipped, st.SkipReason = true, "not selected (only "+joinKinds(opts.Only)+")"
		}
		if !steps[i].Skipped {
			toRun++
		}
	}
	if opts.OnStart != nil {
		planned := rep
		planned.Steps = steps
		opts.OnStart(planned)
	}
	var earlier []store.Step // the steps that ran, for dry-run counts
	number := 0
	for _, st := range steps {
		if !st.Skipped {
			number++
		}
		at := stepAt{number: number, of: toRun}
		switch {
		case st.Skipped:
		case rep.StoppedEarly:
			st.Skipped, st.SkipReason = true, "the time budget was spent"
		case opts.DryRun:
			err = countStep(ctx, opts, &st, earlier, at)
		default:
			var spent bool
			spent, err = runStep(ctx, opts, &st, start, sess, th, at)
			rep.StoppedEarly = spent
		}
		if !st.Skipped {
			earlier = append(earlier, store.Step{Target: st.Target, Cutoff: st.Cutoff})
			if opts.OnStep != nil {
				opts.OnStep(st) // what it did, whole batches, even if it failed
			}
		}
		rep.Steps = append(rep.Steps, st)
		if err != nil {
			break
		}
	}
	rep.Duration = time.Since(start)
	rep.ReplicaPauses, rep.ReplicaWait = th.replicas.pauses, th.replicas.waited
	if err != nil {
		if ctx.Err() != nil {
			rep.Interrupted = true
			return rep, fmt.Errorf("%w after %d rows: %w", ErrInterrupted, rep.Deleted(), context.Cause(ctx))
		}
		return rep, err
	}
	return rep, nil
}
