package cleanup

// What both commands do around their batches: the options they share,
// checked once, and the preamble of a run (the writable check, the
// single-runner lock).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// NoRetries is the Retries of a run that never retries a batch (0 means
// DefaultRetries: a caller that sets nothing gets the safe default).
const NoRetries = -1

// DefaultRetryBackoff is the first pause before a retry.
const DefaultRetryBackoff = 200 * time.Millisecond

// control is what Clear and ClearCIMDApplications share of their options.
type control struct {
	lock             LockPolicy
	retries          int
	retryBackoff     time.Duration
	statementTimeout time.Duration
	dryRun           bool
	logger           *slog.Logger
}

// checkControl checks and defaults the options both commands share; typ
// names the options' type in errors ("Options", "CIMDOptions").
func checkControl(typ string, now time.Time, lock LockPolicy, retries *int, backoff *time.Duration, statementTimeout time.Duration) error {
	if !now.IsZero() && now.After(time.Now()) {
		return &OptionError{Field: typ + ".Now", Value: now.UTC().Format(time.RFC3339), Problem: "is in the future: it would delete what is still live"}
	}
	if lock < LockSkip || lock > LockNone {
		return &OptionError{Field: typ + ".Lock", Value: int(lock), Problem: "is not a LockPolicy"}
	}
	if statementTimeout < 0 {
		return &OptionError{Field: typ + ".StatementTimeout", Value: statementTimeout, Problem: "must not be negative"}
	}
	if *backoff < 0 {
		return &OptionError{Field: typ + ".RetryBackoff", Value: *backoff, Problem: "must not be negative"}
	}
	switch {
	case *retries == 0:
		*retries = DefaultRetries
	case *retries < 0:
		*retries = 0
	}
	if *backoff == 0 {
		*backoff = DefaultRetryBackoff
	}
	return nil
}

// session is a run under way: lock is its single-runner lock (nil when it
// took none), which fences every batch; release gives it back.
type session struct {
	lock    store.Unlocker
	release func()
}

// lost reports the loss of the lock that the heartbeat noticed (nil while
// held, or when the run took none): checked between batches, so a run
// stops at once rather than at its next batch's fence.
func (s session) lost() error {
	if s.lock == nil {
		return nil
	}
	return s.lock.Err()
}

// begin is the preamble of a run. A run that writes first checks that the
// database takes writes (said first, in one line: a standby refuses every
// write), then takes the single-runner lock lockName unless the policy is
// LockNone; another holder gives locked. A dry run takes no lock. Cancelled
// while waiting for the lock, the error matches ErrInterrupted.
func begin(ctx context.Context, st store.Store, c control, lockName string, locked error) (session, error) {
	s := session{release: func() {}}
	if c.dryRun {
		return s, nil
	}
	if err := st.CheckWritable(ctx); err != nil {
		return s, err
	}
	if c.lock == LockNone {
		return s, nil
	}
	lock, err := st.Lock(ctx, store.LockParams{Name: lockName, Wait: c.lock == LockWait})
	switch {
	case errors.Is(err, store.ErrLocked):
		return s, locked
	case err != nil && ctx.Err() != nil:
		return s, fmt.Errorf("%w while waiting for the lock: %w", ErrInterrupted, context.Cause(ctx))
	case err != nil:
		return s, err
	}
	s.lock = lock
	s.release = func() { lock.Unlock() } //nolint:errcheck // the session's end releases it anyway
	return s, nil
}
