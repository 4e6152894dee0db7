package cleanup_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store"
)

// Control flow of a run against a fake store: no database, no timing
// races (the only waits are lower bounds: a budget is crossed by a batch
// that sleeps past it).

func fakeRun(t *testing.T, f *fakeStore, o cleanup.Options) (cleanup.Report, error) {
	t.Helper()
	o.Store, o.RetryBackoff = f, time.Millisecond
	if o.Rules == "" {
		o.Rules = cleanup.RulesDOT33
	}
	return cleanup.Clear(context.Background(), o)
}

func TestRetriesThenSuccess(t *testing.T) {
	f := &fakeStore{DeleteBatchFunc: batches(2, 5, func(call int) error {
		if call <= 2 {
			return transient
		}
		return nil
	})}
	rep, err := fakeRun(t, f, cleanup.Options{BatchSize: 2})
	require.NoError(t, err)
	grants := stepNamed(t, rep, cleanup.StepExpiredGrant)
	assert.EqualValues(t, 5, grants.Deleted)
	assert.Equal(t, 2, grants.Retries)
	assert.Equal(t, 3, grants.Batches)
}

// Retries are bounded: a failure that never clears ends the run with an
// error that says so, and the report keeps what was done.
func TestRetriesExhausted(t *testing.T) {
	f := &fakeStore{DeleteBatchFunc: batches(2, 10, func(call int) error {
		if call >= 2 {
			return transient
		}
		return nil
	})}
	rep, err := fakeRun(t, f, cleanup.Options{BatchSize: 2, Retries: 3})
	require.Error(t, err)
	assert.True(t, errors.Is(err, store.ErrTransient))
	assert.Contains(t, err.Error(), "after 3 retries")
	assert.Contains(t, err.Error(), "step expired_grants")
	grants := stepNamed(t, rep, cleanup.StepExpiredGrant)
	assert.EqualValues(t, 2, grants.Deleted, "the first batch stays counted")
	assert.Equal(t, 3, grants.Retries)
	assert.False(t, grants.Complete)
}

func TestNoRetries(t *testing.T) {
	var calls atomic.Int32
	f := &fakeStore{DeleteBatchFunc: batches(2, 10, func(int) error { calls.Add(1); return transient })}
	_, err := fakeRun(t, f, cleanup.Options{Retries: cleanup.NoRetries})
	require.Error(t, err)
	assert.EqualValues(t, 1, calls.Load(), "tried once")
	assert.NotContains(t, err.Error(), "retries")
}

func TestPermanentErrorIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	f := &fakeStore{DeleteBatchFunc: batches(2, 10, func(int) error { calls.Add(1); return errPermanent })}
	_, err := fakeRun(t, f, cleanup.Options{Retries: 5})
	require.ErrorIs(t, err, errPermanent)
	assert.EqualValues(t, 1, calls.Load())
}

// A statement timeout is the deadline of each attempt; the attempt that
// meets it fails, and the next one gets a fresh deadline.
func TestStatementTimeoutBoundsEachAttempt(t *testing.T) {
	var deadlines []time.Time
	f := &fakeStore{DeleteBatchFunc: batches(5, 5, nil)}
	inner := f.DeleteBatchFunc
	f.DeleteBatchFunc = func(ctx context.Context, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
		d, ok := ctx.Deadline()
		require.True(t, ok, "each batch has a deadline")
		deadlines = append(deadlines, d)
		return inner(ctx, p)
	}
	_, err := fakeRun(t, f, cleanup.Options{StatementTimeout: time.Hour})
	require.NoError(t, err)
	require.NotEmpty(t, deadlines)
	for _, d := range deadlines {
		assert.WithinDuration(t, time.Now().Add(time.Hour), d, time.Minute)
	}
}

// The budget ends the run after the batch that crosses it (no error,
// StoppedEarly), and the later steps are skipped, saying why.
func TestBudgetStopsAfterTheBatchThatCrossesIt(t *testing.T) {
	const budget = 2 * time.Second
	f := &fakeStore{DeleteBatchFunc: batches(1, 10, func(call int) error {
		if call == 2 {
			time.Sleep(budget + 100*time.Millisecond) // this batch crosses it
		}
		return nil
	})}
	rep, err := fakeRun(t, f, cleanup.Options{MaxDuration: budget})
	require.NoError(t, err)
	assert.True(t, rep.StoppedEarly)
	grants := stepNamed(t, rep, cleanup.StepExpiredGrant)
	assert.EqualValues(t, 2, grants.Deleted, "the batch in flight when the budget ran out commits; no batch after it")
	par := stepNamed(t, rep, cleanup.StepExpiredPAR)
	assert.True(t, par.Skipped)
	assert.Equal(t, "the time budget was spent", par.SkipReason)
}

// Cancelled during a batch, the run lets that batch commit and starts no
// other; the error matches ErrInterrupted and the context's error.
func TestCancelledDuringABatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakeStore{DeleteBatchFunc: batches(3, 30, func(call int) error {
		if call == 2 {
			cancel()
		}
		return nil
	})}
	rep, err := cleanup.Clear(ctx, cleanup.Options{Store: f, Rules: cleanup.RulesDOT33})
	require.Error(t, err)
	assert.ErrorIs(t, err, cleanup.ErrInterrupted)
	assert.ErrorIs(t, err, context.Canceled)
	assert.True(t, rep.Interrupted)
	assert.EqualValues(t, 6, stepNamed(t, rep, cleanup.StepExpiredGrant).Deleted, "two whole batches")
}

// lockedAfterFirst is a LockFunc that gives lock, then finds the lock
// held by another run.
func lockedAfterFirst(lock store.Unlocker, takes *atomic.Int32) func(context.Context, store.LockParams) (store.Unlocker, error) {
	return func(context.Context, store.LockParams) (store.Unlocker, error) {
		if takes.Add(1) == 1 {
			return lock, nil
		}
		return nil, store.ErrLocked
	}
}

// A lost lock that another run holds now stops the run before its next
// batch.
func TestLostLockStopsTheRun(t *testing.T) {
	lock := &fakeLock{}
	var takes atomic.Int32
	f := &fakeStore{LockFunc: lockedAfterFirst(lock, &takes)}
	f.DeleteBatchFunc = batches(1, 10, func(call int) error {
		if call == 2 {
			lock.lose()
		}
		return nil
	})
	rep, err := fakeRun(t, f, cleanup.Options{})
	require.ErrorIs(t, err, store.ErrLockLost)
	assert.Contains(t, err.Error(), "another run holds it now")
	assert.EqualValues(t, 2, stepNamed(t, rep, cleanup.StepExpiredGrant).Deleted)
	assert.True(t, lock.released, "the lock is given back")
	assert.EqualValues(t, 2, takes.Load(), "one attempt to take it again")
}

// A lost lock that nobody took meanwhile (the server restarted, say) is
// taken again, and the run goes on under it: the batch its fence rolled
// back runs again, fenced by the new lock.
func TestLostLockTakenAgain(t *testing.T) {
	first, second := &fakeLock{}, &fakeLock{}
	var takes atomic.Int32
	f := &fakeStore{LockFunc: func(context.Context, store.LockParams) (store.Unlocker, error) {
		if takes.Add(1) == 1 {
			return first, nil
		}
		return second, nil
	}}
	var fencedBy []store.Unlocker
	f.DeleteBatchFunc = func(_ context.Context, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
		fencedBy = append(fencedBy, p.Lock)
		if p.Lock == first && len(fencedBy) == 2 {
			return store.DeleteBatchResult{}, fmt.Errorf("fence: %w", store.ErrLockLost)
		}
		return store.DeleteBatchResult{Deleted: 1, Done: true}, nil
	}
	rep, err := fakeRun(t, f, cleanup.Options{Rules: cleanup.RulesDOT33})
	require.NoError(t, err)
	assert.EqualValues(t, 2, takes.Load())
	assert.Equal(t, []store.Unlocker{first, first, second}, fencedBy[:3], "the rolled-back batch ran again under the new lock")
	for _, l := range fencedBy[3:] {
		assert.Same(t, second, l)
	}
	ran := 0
	for _, st := range rep.Steps {
		if !st.Skipped {
			ran++
		}
	}
	assert.Len(t, fencedBy, ran+1)
	assert.EqualValues(t, ran, rep.Deleted(), "every step's batch committed once")
	assert.True(t, first.released && second.released)

	// With no retries, a lost lock is never taken again.
	takes.Store(0)
	first, second = &fakeLock{}, &fakeLock{}
	fencedBy = nil
	_, err = fakeRun(t, f, cleanup.Options{Rules: cleanup.RulesDOT33, Retries: cleanup.NoRetries})
	require.ErrorIs(t, err, store.ErrLockLost)
	assert.EqualValues(t, 1, takes.Load())
}

// Every batch is fenced by the run's lock (and none under LockNone); a
// batch its fence rolled back stops the run at once, never retried.
func TestBatchesAreFencedByTheLock(t *testing.T) {
	lock := &fakeLock{}
	var calls, takes atomic.Int32
	f := &fakeStore{LockFunc: lockedAfterFirst(lock, &takes)}
	f.DeleteBatchFunc = func(_ context.Context, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
		calls.Add(1)
		assert.Same(t, lock, p.Lock, "the batch is fenced by the run's lock")
		return store.DeleteBatchResult{}, fmt.Errorf("fence: %w", store.ErrLockLost)
	}
	_, err := fakeRun(t, f, cleanup.Options{Retries: 5})
	require.ErrorIs(t, err, store.ErrLockLost)
	assert.EqualValues(t, 1, calls.Load(), "no retry, no further batch")

	f.DeleteBatchFunc = func(_ context.Context, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
		assert.Nil(t, p.Lock, "a run without a lock is unfenced")
		return store.DeleteBatchResult{Done: true}, nil
	}
	_, err = fakeRun(t, f, cleanup.Options{Lock: cleanup.LockNone})
	require.NoError(t, err)
}

// Another holder of the lock: LockSkip returns ErrLocked at once and
// deletes nothing; a dry run takes no lock at all.
func TestLockPolicies(t *testing.T) {
	var takes atomic.Int32
	f := &fakeStore{LockFunc: func(context.Context, store.LockParams) (store.Unlocker, error) {
		takes.Add(1)
		return nil, store.ErrLocked
	}}
	f.DeleteBatchFunc = func(context.Context, store.DeleteBatchParams) (store.DeleteBatchResult, error) {
		t.Fatal("no batch runs without the lock")
		return store.DeleteBatchResult{}, nil
	}
	_, err := fakeRun(t, f, cleanup.Options{})
	assert.ErrorIs(t, err, cleanup.ErrLocked)
	_, err = fakeRun(t, f, cleanup.Options{DryRun: true})
	require.NoError(t, err)
	assert.EqualValues(t, 1, takes.Load(), "the dry run took no lock")
}

// Workers stop together: the first worker's permanent error ends the
// others after their batch in flight, and that error is the run's.
func TestWorkersStopTogether(t *testing.T) {
	var mu sync.Mutex
	after := map[store.Cursor]int{} // batches run per range after the failure
	failed := make(chan struct{})
	f := &fakeStore{
		PartitionFunc: func(context.Context, store.PartitionParams) ([]store.Range, error) {
			return []store.Range{{From: "", Until: "a"}, {From: "a", Until: "b"}, {From: "b"}}, nil
		},
		DeleteBatchFunc: func(ctx context.Context, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
			if p.Target != store.GrantExpiredBefore {
				return store.DeleteBatchResult{Done: true}, nil
			}
			if p.Until == "a" {
				close(failed)
				return store.DeleteBatchResult{}, errPermanent
			}
			<-failed // the others run while and after the first one fails
			mu.Lock()
			after[p.Until]++
			mu.Unlock()
			return store.DeleteBatchResult{Deleted: 1, Next: p.After + "x"}, nil // never done on its own
		},
	}
	rep, err := fakeRun(t, f, cleanup.Options{Workers: 3})
	require.ErrorIs(t, err, errPermanent)
	grants := stepNamed(t, rep, cleanup.StepExpiredGrant)
	assert.False(t, grants.Complete)
	for until, n := range after {
		assert.LessOrEqual(t, n, 2, "range until %q went on after the failure", until)
	}
}

// Workers take ranges from a queue: with more ranges than workers, every
// range is walked to its end, by at most Workers batches at a time, and a
// worker whose range ends takes the next (where the matches all lie at the
// start of the table, as in a time-ordered backlog, no worker sits idle
// while one range still has work).
func TestWorkersShareRanges(t *testing.T) {
	const ranges, perRange = 10, 3
	var running, peak atomic.Int32
	var mu sync.Mutex
	batchesOf := map[store.Cursor]int{}
	var asked store.PartitionParams
	f := &fakeStore{
		PartitionFunc: func(_ context.Context, p store.PartitionParams) ([]store.Range, error) {
			asked = p
			var out []store.Range
			for i := range ranges {
				out = append(out, store.Range{From: store.Cursor(fmt.Sprint(i)), Until: store.Cursor(fmt.Sprint(i + 1))})
			}
			return out, nil
		},
		DeleteBatchFunc: func(_ context.Context, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
			if p.Target != store.GrantExpiredBefore {
				return store.DeleteBatchResult{Done: true}, nil
			}
			n := running.Add(1)
			defer running.Add(-1)
			for {
				if old := peak.Load(); n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			mu.Lock()
			batchesOf[p.Until]++
			done := batchesOf[p.Until] == perRange
			mu.Unlock()
			return store.DeleteBatchResult{Deleted: 1, Next: p.After + "x", Done: done}, nil
		},
	}
	rep, err := fakeRun(t, f, cleanup.Options{Workers: 3})
	require.NoError(t, err)
	grants := stepNamed(t, rep, cleanup.StepExpiredGrant)
	assert.True(t, grants.Complete)
	assert.EqualValues(t, ranges*perRange, grants.Deleted)
	assert.Len(t, batchesOf, ranges, "every range was walked")
	assert.LessOrEqual(t, peak.Load(), int32(3), "at most Workers batches at once")
	assert.Greater(t, asked.Parts, 3, "the table is cut into more ranges than workers")
}

// The preamble: a standby is said first, before any lock or batch.
func TestReadOnlyDatabaseSaidFirst(t *testing.T) {
	f := &fakeStore{
		CheckWritableFunc: func(context.Context) error { return store.ErrReadOnly },
		LockFunc: func(context.Context, store.LockParams) (store.Unlocker, error) {
			t.Fatal("no lock is taken on a read-only database")
			return nil, nil
		},
	}
	_, err := fakeRun(t, f, cleanup.Options{})
	assert.ErrorIs(t, err, store.ErrReadOnly)
	_, err = cleanup.ClearCIMDApplications(context.Background(), cleanup.CIMDOptions{Store: f})
	assert.ErrorIs(t, err, store.ErrReadOnly)
}

// clearcimdapplications shares the retries and the lock of cleartokens.
func TestCIMDRetriesAndLock(t *testing.T) {
	var calls int
	f := &fakeStore{PruneCIMDApplicationsFunc: func(_ context.Context, p store.PruneCIMDApplicationsParams) (store.PruneCIMDResult, error) {
		calls++
		switch {
		case calls == 1:
			return store.PruneCIMDResult{}, transient
		case p.After == 0:
			return store.PruneCIMDResult{Candidates: 2, Locked: 2, Deleted: 2, Next: 7}, nil
		}
		return store.PruneCIMDResult{}, nil
	}}
	rep, err := cleanup.ClearCIMDApplications(context.Background(), cleanup.CIMDOptions{Store: f, RetryBackoff: time.Millisecond})
	require.NoError(t, err)
	assert.EqualValues(t, 2, rep.Deleted)
	assert.Equal(t, 1, rep.Retries)
	f.LockFunc = func(context.Context, store.LockParams) (store.Unlocker, error) { return nil, store.ErrLocked }
	_, err = cleanup.ClearCIMDApplications(context.Background(), cleanup.CIMDOptions{Store: f})
	assert.ErrorIs(t, err, cleanup.ErrCIMDLocked)
}
