package cleanup

// What both commands do around their batches: the options they share,
// checked once, and the preamble of a run (the writable check, the
// single-runner lock).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
// took none), which fences every batch.
type session struct {
	st       store.Store
	c        control
	name     string
	mu       sync.Mutex
	lock     store.Unlocker
	regained int
}

// current is the lock that fences the next batch (nil: none).
func (s *session) current() store.Unlocker {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lock
}

// release gives the lock back.
func (s *session) release() {
	if l := s.current(); l != nil {
		l.Unlock() //nolint:errcheck // the session's end releases it anyway
	}
}

// check is called between batches: nil while the lock holds (or the run
// took none); once the heartbeat noticed the lock lost, what regain says.
func (s *session) check(ctx context.Context) error {
	l := s.current()
	if l == nil {
		return nil
	}
	if err := l.Err(); err != nil {
		return s.regain(ctx, l, err)
	}
	return nil
}

// regain is called when lock was found lost (lost says how): by the
// heartbeat, or by a batch's fence, which rolled that batch back. A run
// that lost its lock has committed nothing since, so if no other run took
// the lock meanwhile (the server restarted, the lock's connection was cut)
// it may take it again and go on: still one runner at a time. It tries
// without waiting, retrying transient failures as a batch would, at most
// Retries times in a run; if another run holds it now, this one stops.
// Workers that find the same lock lost share one attempt.
func (s *session) regain(ctx context.Context, lock store.Unlocker, lost error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock != lock {
		return nil // another worker took it again already
	}
	if s.regained >= s.c.retries {
		return lost
	}
	s.regained++
	lock.Unlock() //nolint:errcheck // it is lost: this only tidies up
	var retries int
	l, err := retry(ctx, s.c.retries, s.c.retryBackoff, s.c.logger, &retries, func() (store.Unlocker, error) {
		return s.st.Lock(ctx, store.LockParams{Name: s.name})
	})
	switch {
	case errors.Is(err, store.ErrLocked):
		return fmt.Errorf("%w; another run holds it now", lost)
	case err != nil:
		return fmt.Errorf("%w; taking it again failed: %w", lost, err)
	}
	s.lock = l
	if s.c.logger != nil {
		s.c.logger.Warn("the single-runner lock was lost and is taken again; the batch it fenced was rolled back and runs again", "cause", lost)
	}
	return nil
}

// begin is the preamble of a run. A run that writes first checks that the
// database takes writes (said first, in one line: a standby refuses every
// write), then takes the single-runner lock lockName unless the policy is
// LockNone; another holder gives locked. A dry run takes no lock. Cancelled
// while waiting for the lock, the error matches ErrInterrupted.
func begin(ctx context.Context, st store.Store, c control, lockName string, locked error) (*session, error) {
	s := &session{st: st, c: c, name: lockName}
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
	return s, nil
}

// fenced runs one batch fenced by the session's lock; a batch whose fence
// found the lock lost runs again under the lock taken again (regain), or
// the run stops.
func fenced[T any](ctx context.Context, s *session, batch func(lock store.Unlocker) (T, error)) (T, error) {
	for {
		lock := s.current()
		res, err := batch(lock)
		if lock == nil || !errors.Is(err, store.ErrLockLost) {
			return res, err
		}
		if rerr := s.regain(ctx, lock, err); rerr != nil {
			return res, rerr
		}
	}
}
