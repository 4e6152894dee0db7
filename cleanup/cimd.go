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

// ErrBatchSize: a CIMDOptions.BatchSize below 1 (the command says it in
// DOT's words, "--batch-size must be a positive integer."). The error
// returned is an *OptionError, which matches ErrBatchSize and
// ErrInvalidOptions.
var ErrBatchSize = errors.New("batch size must be a positive integer")

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
	sess, err := begin(ctx, o.Store, o.control(), CIMDLockName, ErrCIMDLocked)
	if err != nil {
		return CIMDReport{Interrupted: errors.Is(err, ErrInterrupted)}, err
	}
	defer sess.release()
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	rep := CIMDReport{DryRun: o.DryRun, Now: now}
	err = o.walk(ctx, now, &rep, sess)
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
		return &OptionError{Field: "CIMDOptions.Store", Problem: "is required"}
	}
	switch {
	case o.BatchSize == 0:
		o.BatchSize = DefaultCIMDBatchSize
	case o.BatchSize < 0:
		return &OptionError{Field: "CIMDOptions.BatchSize", Value: o.BatchSize, Problem: "must be a positive integer", sentinel: ErrBatchSize}
	case o.BatchSize > MaxBatchSize:
		return &OptionError{Field: "CIMDOptions.BatchSize", Value: o.BatchSize, Problem: fmt.Sprintf("must be at most %d", MaxBatchSize)}
	}
	return checkControl("CIMDOptions", o.Now, o.Lock, &o.Retries, &o.RetryBackoff, o.StatementTimeout)
}

func (o *CIMDOptions) control() control {
	return control{lock: o.Lock, retries: o.Retries, retryBackoff: o.RetryBackoff, statementTimeout: o.StatementTimeout, dryRun: o.DryRun, logger: o.Logger}
}

// walk runs the batches. Each runs to its commit even when ctx is
// cancelled meanwhile; ctx is checked between them.
func (o *CIMDOptions) walk(ctx context.Context, now time.Time, rep *CIMDReport, sess *session) error {
	batchCtx := context.WithoutCancel(ctx)
	var after int64
	var gone []int64 // a dry run's cascaded access tokens, gone for later batches
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := sess.check(ctx); err != nil {
			return fmt.Errorf("stopped: %w", err)
		}
		res, err := fenced(ctx, sess, func(lock store.Unlocker) (store.PruneCIMDResult, error) {
			p := store.PruneCIMDApplicationsParams{Now: now, After: after, Max: o.BatchSize, DryRun: o.DryRun, Gone: gone, Lock: lock}
			return runBatch(ctx, batchCtx, o.control(), &rep.Retries, func(ctx context.Context) (store.PruneCIMDResult, error) {
				return o.Store.PruneCIMDApplications(ctx, p)
			})
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
