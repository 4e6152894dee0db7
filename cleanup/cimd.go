package cleanup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// DefaultCIMDBatchSize is the --batch-size default of DOT 3.4.1's
// clearcimdapplications.
const DefaultCIMDBatchSize = 1000

// CIMDLockName is what clearcimdapplications' single-runner lock is called.
const CIMDLockName = "clearcimdapplications"

// ErrBatchSize is DOT's error for a batch size below 1; it also matches
// ErrInvalidOptions.
var ErrBatchSize = fmt.Errorf("--batch-size must be a positive integer.: %w", ErrInvalidOptions)

// CIMDOptions are the settings of DOT 3.4.1's clearcimdapplications.
type CIMDOptions struct {
	// Store is the database. Required.
	Store store.Store
	// BatchSize is how many applications are locked and deleted per
	// transaction; 0 means DefaultCIMDBatchSize, below 0 is ErrBatchSize.
	BatchSize int
	// Now is the moment the run compares with; zero means time.Now(), read
	// once at the start. It must not be in the future.
	Now time.Time
	// DryRun runs every batch and rolls it back: the report says what a run
	// would delete; nothing changes (the batches still lock their rows
	// while they run, as a real run's do).
	DryRun bool
	// Lock, Retries, RetryBackoff and StatementTimeout are as in Options;
	// the lock is its own (CIMDLockName), not cleartokens'.
	Lock             LockPolicy
	Retries          int
	RetryBackoff     time.Duration
	StatementTimeout time.Duration
	// Logger receives a debug record per batch; nil means none.
	Logger *slog.Logger
	// OnBatch, when set, is called after every batch.
	OnBatch func(CIMDBatchEvent)
}

// CIMDBatchEvent describes one batch.
type CIMDBatchEvent struct {
	Candidates int
	Deleted    int64
	// TotalDeleted is the applications deleted so far.
	TotalDeleted int64
}

// CIMDReport is what a run did (or, in a dry run, would do).
type CIMDReport struct {
	DryRun bool      `json:"dry_run"`
	Now    time.Time `json:"now"`
	// Deleted is the number of applications deleted: DOT's
	// "Deleted N expired CIMD application(s)".
	Deleted int64 `json:"deleted"`
	// Candidates is how many expired CIMD applications were examined; Kept
	// how many of them hold live tokens or grants (or changed under the
	// lock) and stay.
	Candidates int64 `json:"candidates"`
	Kept       int64 `json:"kept"`
	Batches    int   `json:"batches"`
	Retries    int   `json:"retries"`
	// What the deletions took with them (Django's cascade).
	AccessTokens  int64         `json:"access_tokens"`
	RefreshTokens int64         `json:"refresh_tokens"`
	IDTokens      int64         `json:"id_tokens"`
	Grants        int64         `json:"grants"`
	Interrupted   bool          `json:"interrupted"`
	Duration      time.Duration `json:"-"`
}

// Line is DOT's output line.
func (r CIMDReport) Line() string {
	if r.DryRun {
		return "Would delete " + strconv.FormatInt(r.Deleted, 10) + " expired CIMD application(s) (dry run)"
	}
	return "Deleted " + strconv.FormatInt(r.Deleted, 10) + " expired CIMD application(s)"
}

// MarshalJSON writes the duration in seconds and times in UTC.
func (r CIMDReport) MarshalJSON() ([]byte, error) {
	type plain CIMDReport
	p := plain(r)
	p.Now = p.Now.UTC()
	return json.Marshal(struct {
		plain
		DurationSeconds float64 `json:"duration_seconds"`
	}{p, r.Duration.Seconds()})
}

// ClearCIMDApplications runs DOT 3.4.1's clearcimdapplications: it walks
// the applications registered from a Client ID Metadata Document whose
// cache expired (registration_source "cimd", cimd_expires_at before now)
// by primary key, BatchSize at a time, each batch one transaction that
// locks the candidates, re-checks them, and deletes those that hold no
// live access token, ID token or grant and no unrevoked refresh token,
// with Django's cascade. As in DOT, a batch's liveness check sees the
// cascades of the batches before it, so the result can depend on the batch
// size. On a database whose DOT predates CIMD the error matches
// store.ErrNoCIMD. Cancelling ctx stops it between batches with an error
// matching ErrInterrupted.
func ClearCIMDApplications(ctx context.Context, o CIMDOptions) (CIMDReport, error) {
	start := time.Now()
	if err := o.validate(); err != nil {
		return CIMDReport{}, err
	}
	if !o.DryRun {
		if err := o.Store.CheckWritable(ctx); err != nil {
			return CIMDReport{}, err
		}
	}
	guard := func() error { return nil }
	if o.Lock != LockNone && !o.DryRun {
		lock, err := o.Store.Lock(ctx, store.LockParams{Name: CIMDLockName, Wait: o.Lock == LockWait})
		if errors.Is(err, store.ErrLocked) {
			return CIMDReport{}, ErrCIMDLocked
		}
		if err != nil {
			if ctx.Err() != nil {
				return CIMDReport{Interrupted: true}, fmt.Errorf("%w while waiting for the lock: %w", ErrInterrupted, context.Cause(ctx))
			}
			return CIMDReport{}, err
		}
		defer lock.Unlock() //nolint:errcheck // the session's end releases it anyway
		guard = lock.Err
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	rep := CIMDReport{DryRun: o.DryRun, Now: now}
	err := o.walk(ctx, now, &rep, guard)
	rep.Duration = time.Since(start)
	if err != nil && ctx.Err() != nil {
		rep.Interrupted = true
		return rep, fmt.Errorf("%w after %d applications: %w", ErrInterrupted, rep.Deleted, context.Cause(ctx))
	}
	return rep, err
}

// ErrCIMDLocked: another clearcimdapplications run holds the lock. It also
// matches store.ErrLocked.
var ErrCIMDLocked = fmt.Errorf("another clearcimdapplications run holds the lock: %w", store.ErrLocked)

func (o *CIMDOptions) validate() error {
	if o.Store == nil {
		return fmt.Errorf("CIMDOptions.Store is nil: %w", ErrInvalidOptions)
	}
	switch {
	case o.BatchSize == 0:
		o.BatchSize = DefaultCIMDBatchSize
	case o.BatchSize < 0:
		return ErrBatchSize
	}
	if !o.Now.IsZero() && o.Now.After(time.Now()) {
		return fmt.Errorf("now %s is in the future: %w", o.Now.UTC().Format(time.RFC3339), ErrInvalidOptions)
	}
	if o.Lock < LockSkip || o.Lock > LockNone {
		return fmt.Errorf("lock policy %d: %w", o.Lock, ErrInvalidOptions)
	}
	if o.StatementTimeout < 0 || o.RetryBackoff < 0 {
		return fmt.Errorf("statement timeout and retry backoff must not be negative: %w", ErrInvalidOptions)
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.RetryBackoff == 0 {
		o.RetryBackoff = 200 * time.Millisecond
	}
	return nil
}

// walk runs the batches. Each runs to its commit even when ctx is
// cancelled meanwhile; ctx is checked between them.
func (o *CIMDOptions) walk(ctx context.Context, now time.Time, rep *CIMDReport, guard func() error) error {
	batchCtx := context.WithoutCancel(ctx)
	var after int64
	var gone []int64 // a dry run's cascaded access tokens, gone for later batches
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := guard(); err != nil {
			return fmt.Errorf("stopped: %w", err)
		}
		p := store.PruneCIMDParams{Now: now, After: after, Max: o.BatchSize, DryRun: o.DryRun, Gone: gone}
		res, err := retry(ctx, o.Retries, o.RetryBackoff, o.Logger, &rep.Retries, func() (store.PruneCIMDResult, error) {
			attempt, cancel := batchCtx, context.CancelFunc(func() {})
			if o.StatementTimeout > 0 {
				attempt, cancel = context.WithTimeout(batchCtx, o.StatementTimeout)
			}
			defer cancel()
			return o.Store.PruneCIMDApplications(attempt, p)
		})
		if err != nil {
			return err
		}
		if res.Candidates == 0 {
			return nil
		}
		rep.Batches++
		rep.Candidates += int64(res.Candidates)
		rep.Kept += int64(res.Candidates) - res.Deleted
		rep.Deleted += res.Deleted
		rep.AccessTokens += res.AccessTokens
		rep.RefreshTokens += res.RefreshTokens
		rep.IDTokens += res.IDTokens
		rep.Grants += res.Grants
		if o.DryRun {
			gone = append(gone, res.ExtraAccessTokens...)
		}
		after = res.Next
		if o.Logger != nil {
			o.Logger.Debug("batch done", "candidates", res.Candidates, "deleted", res.Deleted, "total_deleted", rep.Deleted, "cursor", after)
		}
		if o.OnBatch != nil {
			o.OnBatch(CIMDBatchEvent{Candidates: res.Candidates, Deleted: res.Deleted, TotalDeleted: rep.Deleted})
		}
	}
}

// retry runs fn again after a transient failure (store.ErrTransient) with
// a doubling pause, up to retries times; each failed attempt was rolled
// back, so trying again is safe.
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
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, ctx.Err()
		case <-t.C:
		}
		pause = min(pause*2, backoff*30)
	}
}
