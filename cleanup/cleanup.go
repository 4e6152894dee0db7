// Package cleanup removes expired and revoked tokens from a
// django-oauth-toolkit database exactly as DOT's `manage.py cleartokens`
// does, in batches, with each condition re-checked inside the deleting
// statement, memory flat whatever the row count, and cancellation honoured
// between batches.
package cleanup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// Rules selects which DOT generation's cleanup rules run.
type Rules string

const (
	// RulesAuto picks the rules of the DOT that migrated the database.
	RulesAuto Rules = "auto"
	// RulesDOT33 are the rules of DOT 3.0 – 3.3 (and 1.x/2.x).
	RulesDOT33 Rules = "dot-3.3"
	// RulesDOT34 are DOT 3.4.1's: grace period, reuse protection, orphans.
	RulesDOT34 Rules = "dot-3.4"
)

// ParseRules reads a CLEARTOKENS_RULES value.
func ParseRules(s string) (Rules, error) {
	switch r := Rules(strings.ToLower(strings.TrimSpace(s))); r {
	case "", RulesAuto:
		return RulesAuto, nil
	case RulesDOT33, RulesDOT34:
		return r, nil
	}
	return "", fmt.Errorf("rules %q: want auto, dot-3.3 or dot-3.4: %w", s, ErrInvalidOptions)
}

// DefaultBatchSize is DOT's CLEAR_EXPIRED_TOKENS_BATCH_SIZE default.
const DefaultBatchSize = 10000

var (
	// ErrInvalidOptions: an option is out of range.
	ErrInvalidOptions = errors.New("invalid cleanup options")
	// ErrInterrupted: the context was cancelled; the report holds what was
	// done, in whole batches.
	ErrInterrupted = errors.New("cleanup interrupted")
	// ErrLocked: another cleaner holds the lock on these tables (LockSkip).
	// It also matches store.ErrLocked.
	ErrLocked = fmt.Errorf("another cleartokens run holds the lock: %w", store.ErrLocked)
)

// Options are the settings of DOT's cleartokens.
type Options struct {
	// Store is the database to clean. Required.
	Store store.Store
	// RefreshTokenExpire is REFRESH_TOKEN_EXPIRE_SECONDS; 0 means unset:
	// refresh tokens never age-expire.
	RefreshTokenExpire time.Duration
	// RefreshTokenGracePeriod is REFRESH_TOKEN_GRACE_PERIOD_SECONDS (dot-3.4).
	RefreshTokenGracePeriod time.Duration
	// RefreshTokenReuseProtection is REFRESH_TOKEN_REUSE_PROTECTION (dot-3.4).
	RefreshTokenReuseProtection bool
	// BatchSize is CLEAR_EXPIRED_TOKENS_BATCH_SIZE: most rows deleted per
	// transaction. 0 means DefaultBatchSize.
	BatchSize int
	// BatchInterval is CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL, the pause between batches.
	BatchInterval time.Duration
	// Now is the moment the run compares with; zero means time.Now(). It is
	// read once, at the start.
	Now time.Time
	// Rules picks the rule set; empty means RulesAuto.
	Rules Rules
	// Logger receives a debug record per batch; nil means none.
	Logger *slog.Logger
	// OnBatch, when set, is called after every committed batch.
	OnBatch func(BatchEvent)

	// Lock decides what happens when another cleaner works on the same
	// tables: LockSkip (the default) returns ErrLocked at once, LockWait
	// waits for it, LockNone takes no lock.
	Lock LockPolicy
	// Retries is how often a batch that failed with a transient error
	// (store.ErrTransient: serialization failure, deadlock, lock or
	// statement timeout, dropped connection, busy SQLite) is tried again;
	// 0 means DefaultRetries, a negative value none.
	Retries int
	// RetryBackoff is the first pause before a retry, doubled each time up
	// to 30 times as long; 0 means 200ms.
	RetryBackoff time.Duration
	// StatementTimeout bounds each batch; one that takes longer is cancelled
	// (rolled back) and counts as a transient failure. 0: no bound.
	StatementTimeout time.Duration

	// DryRun counts what each step would delete and deletes nothing. It
	// takes no lock. The counts equal what a real run at the same Now
	// deletes, if nothing else writes in between.
	DryRun bool
	// Only limits the run to some kinds of token (KindAccess, KindRefresh,
	// KindIDToken, KindGrant, KindPAR); empty means all, in DOT's order.
	Only []Kind
	// KeepIfYounger moves now back: tokens that expired (or were revoked)
	// less than this long ago are kept, for audit windows. 0: none.
	KeepIfYounger time.Duration
	// MaxDuration is a time budget: the run stops after the batch that
	// crosses it, with Report.StoppedEarly set and no error. The next run
	// goes on where this one stopped. 0: no budget.
	MaxDuration time.Duration

	// MaxReplicaLag throttles on the streaming standbys: before each
	// batch, while any standby attached to the database is further behind
	// than this, the run pauses (honouring MaxDuration and cancellation).
	// A standby's lag is the server's replay lag, or, while it has WAL left
	// to replay, how long it has reported the same replay position (the
	// server shows no lag on a link that has gone idle, or on a standby
	// whose replay is paused). 0: no throttle.
	MaxReplicaLag time.Duration
	// OnReplicaWait, when set, is called when the run pauses for a standby
	// and at each check while it waits.
	OnReplicaWait func(ReplicaWaitEvent)

	// Workers cleans each step with this many workers at once, on disjoint
	// ranges of the table (store.Store.Partition), each batch still its own
	// transaction on its own connection; the steps stay in DOT's order, and
	// the lock, retries, time budget and replica throttle apply as with
	// one. 0 or 1: one. A database that takes one writer at a time
	// (SQLite) has one range, so one worker.
	Workers int
}

// ReplicaWaitEvent says why a run is waiting for its standbys.
type ReplicaWaitEvent struct {
	Step    string
	Replica string
	// Lag is the standby's lag as the run reckons it; BytesBehind the WAL
	// it has not replayed.
	Lag         time.Duration
	BytesBehind int64
	// Waited is how long this pause has lasted so far.
	Waited time.Duration
}

// Kind is a kind of token, for Options.Only.
type Kind string

const (
	KindAccess  Kind = "access"
	KindRefresh Kind = "refresh"
	KindIDToken Kind = "idtoken"
	KindGrant   Kind = "grant"
	// KindPAR is DOT main's pushed authorization requests (RFC 9126).
	KindPAR Kind = "par"
)

// ParseKinds reads a comma-separated list such as "access,grant".
func ParseKinds(s string) ([]Kind, error) {
	var kinds []Kind
	for _, part := range strings.Split(s, ",") {
		k := Kind(strings.TrimSpace(part))
		switch k {
		case KindAccess, KindRefresh, KindIDToken, KindGrant, KindPAR:
			kinds = append(kinds, k)
		case "":
		default:
			return nil, fmt.Errorf("token kind %q: want access, refresh, idtoken, grant or par: %w", k, ErrInvalidOptions)
		}
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("no token kind in %q: %w", s, ErrInvalidOptions)
	}
	return kinds, nil
}

func (s StepReport) kind() Kind {
	switch s.Name {
	case StepExpiredAccess:
		return KindAccess
	case StepExpiredIDToken:
		return KindIDToken
	case StepExpiredGrant:
		return KindGrant
	case StepExpiredPAR:
		return KindPAR
	}
	return KindRefresh
}

// LockPolicy is the single-runner choice of Options.Lock.
type LockPolicy int

const (
	// LockSkip: when another run holds the lock, return ErrLocked at once.
	LockSkip LockPolicy = iota
	// LockWait: wait until the other run is done.
	LockWait
	// LockNone: take no lock.
	LockNone
)

// DefaultRetries is how often a transiently failed batch is retried.
const DefaultRetries = 5

// LockName is what the single-runner lock is called in the store.
const LockName = "cleartokens"

// BatchEvent describes one committed batch, for progress reporting.
type BatchEvent struct {
	Step         string
	Deleted      int64 // in this batch
	StepDeleted  int64 // in this step so far
	StepDuration time.Duration
}

// Step names, stable for JSON and logs.
const (
	StepRevokedRefresh  = "revoked_refresh_tokens"
	StepOrphanedRefresh = "orphaned_refresh_tokens"
	StepExpiredRefresh  = "expired_refresh_tokens"
	StepExpiredAccess   = "expired_access_tokens"
	StepExpiredIDToken  = "expired_id_tokens"
	StepExpiredGrant    = "expired_grants"
	// StepExpiredPAR is DOT main's last step: pushed authorization
	// requests past their expiry. It runs only where the table exists.
	StepExpiredPAR = "expired_pushed_authorization_requests"
)

// StepReport is what one step did.
type StepReport struct {
	Name string `json:"name"`
	// Message is DOT's wording, e.g. "Revoked refresh tokens deleted".
	Message string       `json:"message"`
	Target  store.Target `json:"-"`
	// Cutoff is the time the step compared with.
	Cutoff time.Time `json:"-"`
	// Skipped is true when the settings turn the step off (DOT logs "No
	// revoked refresh tokens deleted" then); SkipReason says why.
	Skipped    bool          `json:"skipped"`
	SkipReason string        `json:"skip_reason"`
	Deleted    int64         `json:"deleted"`
	Batches    int           `json:"batches"`
	Retries    int           `json:"retries"`
	Duration   time.Duration `json:"-"`
	// Complete is true when the step walked its whole table.
	Complete bool `json:"complete"`
}

// MarshalJSON writes durations in seconds (the unit of the metrics and
// the logs too) and the cutoff only when the step compares with one.
func (s StepReport) MarshalJSON() ([]byte, error) {
	type plain StepReport
	var cutoff *time.Time
	if !s.Cutoff.IsZero() {
		c := s.Cutoff.UTC()
		cutoff = &c
	}
	return json.Marshal(struct {
		plain
		Cutoff          *time.Time `json:"cutoff,omitempty"`
		DurationSeconds float64    `json:"duration_seconds"`
	}{plain(s), cutoff, s.Duration.Seconds()})
}

// Line is DOT's summary line for the step: "N Expired access tokens deleted".
func (s StepReport) Line() string { return strconv.FormatInt(s.Deleted, 10) + " " + s.Message }

// Report is what a run did.
type Report struct {
	DryRun bool `json:"dry_run"`
	// StoppedEarly is true when MaxDuration ended the run before the end.
	StoppedEarly bool         `json:"stopped_early"`
	Rules        Rules        `json:"rules"`
	RulesReason  string       `json:"rules_reason"`
	Now          time.Time    `json:"now"`
	Steps        []StepReport `json:"steps"`
	Warnings     []string     `json:"warnings"`
	Interrupted  bool         `json:"interrupted"`
	// ReplicaPauses counts the batches held back for lagging standbys
	// (MaxReplicaLag); ReplicaWait is how long they waited in all.
	ReplicaPauses int           `json:"replica_pauses"`
	ReplicaWait   time.Duration `json:"-"`
	Duration      time.Duration `json:"-"`
}

// MarshalJSON writes the duration in seconds and empty lists as [].
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	p := plain(r)
	if p.Steps == nil {
		p.Steps = []StepReport{}
	}
	if p.Warnings == nil {
		p.Warnings = []string{}
	}
	p.Now = p.Now.UTC()
	return json.Marshal(struct {
		plain
		ReplicaWaitSeconds float64 `json:"replica_wait_seconds"`
		DurationSeconds    float64 `json:"duration_seconds"`
	}{p, r.ReplicaWait.Seconds(), r.Duration.Seconds()})
}

// Deleted is the total over all steps.
func (r Report) Deleted() int64 {
	var n int64
	for _, s := range r.Steps {
		n += s.Deleted
	}
	return n
}

// WarnNoExpiry is DOT 3.4's warning when REFRESH_TOKEN_EXPIRE_SECONDS is unset.
const WarnNoExpiry = "REFRESH_TOKEN_EXPIRE_SECONDS is not set: only revoked and orphaned refresh tokens are deleted; " +
	"expired access tokens bound to a live refresh token stay, and so do their refresh tokens"

// Validate reports, as Clear would, the first setting out of range, with
// an error matching ErrInvalidOptions. It does not look at Store, so a
// command can check its options before it connects.
func (o Options) Validate() error {
	if o.Store == nil {
		o.Store = noStore{}
	}
	return o.validate()
}

type noStore struct{ store.Store }

func (o *Options) validate() error {
	if o.Store == nil {
		return fmt.Errorf("Options.Store is nil: %w", ErrInvalidOptions)
	}
	if !o.Now.IsZero() && o.Now.After(time.Now()) {
		return fmt.Errorf("now %s is in the future: it would delete tokens that are still live: %w", o.Now.UTC().Format(time.RFC3339), ErrInvalidOptions)
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BatchSize < 0 {
		return fmt.Errorf("batch size %d: must be positive: %w", o.BatchSize, ErrInvalidOptions)
	}
	if o.BatchInterval < 0 {
		return fmt.Errorf("batch interval %s: must not be negative: %w", o.BatchInterval, ErrInvalidOptions)
	}
	if o.RefreshTokenExpire < 0 {
		return fmt.Errorf("REFRESH_TOKEN_EXPIRE_SECONDS %s: must not be negative: %w", o.RefreshTokenExpire, ErrInvalidOptions)
	}
	if o.StatementTimeout < 0 || o.RetryBackoff < 0 {
		return fmt.Errorf("statement timeout (%s) and retry backoff (%s) must not be negative: %w", o.StatementTimeout, o.RetryBackoff, ErrInvalidOptions)
	}
	if o.Workers < 0 {
		return fmt.Errorf("workers %d: must not be negative: %w", o.Workers, ErrInvalidOptions)
	}
	if o.MaxReplicaLag < 0 {
		return fmt.Errorf("max replica lag %s: must not be negative: %w", o.MaxReplicaLag, ErrInvalidOptions)
	}
	if o.MaxDuration < 0 || o.KeepIfYounger < 0 {
		return fmt.Errorf("max duration (%s) and keep-if-younger (%s) must not be negative: %w", o.MaxDuration, o.KeepIfYounger, ErrInvalidOptions)
	}
	for _, k := range o.Only {
		if _, err := ParseKinds(string(k)); err != nil {
			return err
		}
	}
	if o.Lock < LockSkip || o.Lock > LockNone {
		return fmt.Errorf("lock policy %d: %w", o.Lock, ErrInvalidOptions)
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
	if o.RefreshTokenGracePeriod < 0 {
		return fmt.Errorf("REFRESH_TOKEN_GRACE_PERIOD_SECONDS %s: must not be negative: %w", o.RefreshTokenGracePeriod, ErrInvalidOptions)
	}
	r, err := ParseRules(string(o.Rules))
	if err != nil {
		return err
	}
	o.Rules = r
	return nil
}

// Clear runs DOT's cleartokens on opts.Store. On cancellation it stops
// between batches and returns the report so far with an error matching
// both ErrInterrupted and the context's error.
func Clear(ctx context.Context, opts Options) (Report, error) {
	start := time.Now()
	if err := opts.validate(); err != nil {
		return Report{}, err
	}
	guard := func() error { return nil } // is the lock still held?
	replicas := &replicaThrottle{o: &opts}
	if !opts.DryRun {
		// Said first, in one line: a standby refuses every write.
		if err := opts.Store.CheckWritable(ctx); err != nil {
			return Report{}, err
		}
	}
	if opts.Lock != LockNone && !opts.DryRun {
		lock, err := opts.Store.Lock(ctx, store.LockParams{Name: LockName, Wait: opts.Lock == LockWait})
		if errors.Is(err, store.ErrLocked) {
			return Report{}, ErrLocked
		}
		if err != nil {
			if ctx.Err() != nil {
				return Report{Interrupted: true}, fmt.Errorf("%w while waiting for the lock: %w", ErrInterrupted, context.Cause(ctx))
			}
			return Report{}, err
		}
		defer lock.Unlock() //nolint:errcheck // the session's end releases it anyway
		guard = lock.Err
	}
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
	var earlier []store.Step // the steps that ran, for dry-run counts
	for _, st := range steps {
		switch {
		case st.Skipped:
		case len(opts.Only) > 0 && !slices.Contains(opts.Only, st.kind()):
			st.Skipped, st.SkipReason = true, "not selected (only "+joinKinds(opts.Only)+")"
		case rep.StoppedEarly:
			st.Skipped, st.SkipReason = true, "the time budget was spent"
		case opts.DryRun:
			err = countStep(ctx, opts, &st, earlier)
		default:
			var spent bool
			spent, err = runStep(ctx, opts, &st, start, guard, replicas)
			rep.StoppedEarly = spent
		}
		if !st.Skipped {
			earlier = append(earlier, store.Step{Target: st.Target, Cutoff: st.Cutoff})
		}
		rep.Steps = append(rep.Steps, st)
		if err != nil {
			break
		}
	}
	rep.Duration = time.Since(start)
	rep.ReplicaPauses, rep.ReplicaWait = replicas.pauses, replicas.waited
	if err != nil {
		if ctx.Err() != nil {
			rep.Interrupted = true
			return rep, fmt.Errorf("%w after %d rows: %w", ErrInterrupted, rep.Deleted(), context.Cause(ctx))
		}
		return rep, err
	}
	return rep, nil
}

// plan lays out the steps of a rule set, in DOT's order. DOT main adds
// a last step whatever the rules of the token steps: pushed authorization
// requests, where the database has their table (hasPAR).
func plan(rules Rules, o Options, now time.Time, hasPAR bool) []StepReport {
	var expireCutoff time.Time
	hasExpire := o.RefreshTokenExpire > 0
	if hasExpire {
		expireCutoff = now.Add(-o.RefreshTokenExpire)
	}
	skipped := func(s StepReport, why string) StepReport { s.Skipped, s.SkipReason = true, why; return s }
	revoked := StepReport{Name: StepRevokedRefresh, Message: "Revoked refresh tokens deleted"}
	expired := StepReport{Name: StepExpiredRefresh, Message: "Expired refresh tokens deleted"}
	var steps []StepReport
	if rules == RulesDOT33 {
		revoked.Target, revoked.Cutoff = store.RefreshRevokedBefore, expireCutoff
		expired.Target, expired.Cutoff = store.RefreshAccessExpiredBefore, expireCutoff
		if !hasExpire {
			revoked = skipped(revoked, "REFRESH_TOKEN_EXPIRE_SECONDS is not set")
			expired = skipped(expired, "REFRESH_TOKEN_EXPIRE_SECONDS is not set")
		}
		steps = append(steps, revoked, expired)
	} else {
		revoked.Target, revoked.Cutoff = store.RefreshRevokedAtOrBefore, now.Add(-o.RefreshTokenGracePeriod)
		if o.RefreshTokenReuseProtection {
			// Revoked tokens are what reuse detection looks for: keep them
			// until they expire.
			revoked.Cutoff = expireCutoff
			if !hasExpire {
				revoked = skipped(revoked, "REFRESH_TOKEN_REUSE_PROTECTION keeps revoked refresh tokens and REFRESH_TOKEN_EXPIRE_SECONDS is not set")
			}
		}
		orphaned := StepReport{Name: StepOrphanedRefresh, Message: "Orphaned refresh tokens deleted", Target: store.RefreshOrphaned}
		expired.Target, expired.Cutoff = store.RefreshLiveAccessExpiredAtOrBefore, expireCutoff
		if !hasExpire {
			expired = skipped(expired, "REFRESH_TOKEN_EXPIRE_SECONDS is not set")
		}
		steps = append(steps, revoked, orphaned, expired)
	}
	par := StepReport{Name: StepExpiredPAR, Message: "Expired pushed authorization requests deleted", Target: store.PARExpiredBefore, Cutoff: now}
	if !hasPAR {
		par = skipped(par, "the database has no pushed authorization request table (DOT releases up to 3.4.1 have none; DOT main adds it)")
	}
	return append(steps,
		StepReport{Name: StepExpiredAccess, Message: "Expired access tokens deleted", Target: store.AccessExpiredBefore, Cutoff: now},
		StepReport{Name: StepExpiredIDToken, Message: "Expired ID tokens deleted", Target: store.IDTokenExpiredBefore, Cutoff: now},
		StepReport{Name: StepExpiredGrant, Message: "Expired grant tokens deleted", Target: store.GrantExpiredBefore, Cutoff: now},
		par,
	)
}

// runStep deletes batch after batch until the walk reaches the end of the
// table: with Workers > 1, on disjoint ranges of the table at once, each
// batch still its own transaction on its own connection. Each batch runs
// to its commit even if ctx is cancelled meanwhile, so an interrupted run
// leaves whole batches only; ctx is checked between batches and during
// the pause.
//
// It reports spent when the time budget (MaxDuration, counted from the
// run's start) ran out before the step was complete.
func runStep(ctx context.Context, o Options, st *StepReport, runStart time.Time, guard func() error, replicas *replicaThrottle) (spent bool, err error) {
	start := time.Now()
	defer func() { st.Duration = time.Since(start) }()
	ranges := []store.Range{{}}
	if o.Workers > 1 {
		if ranges, err = o.Store.Partition(ctx, store.PartitionParams{Target: st.Target, Parts: o.Workers}); err != nil {
			return false, fmt.Errorf("step %s: %w", st.Name, err)
		}
	}
	w := &stepWalk{o: o, st: st, start: start, runStart: runStart, guard: guard, replicas: replicas}
	if len(ranges) == 1 {
		complete, spent, err := w.walk(ctx, ranges[0])
		st.Complete = complete
		return spent, err
	}
	// The workers stop together: the first error (or the budget) ends the
	// others after their batch in flight.
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	allComplete := true
	for _, r := range ranges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			complete, sp, err := w.walk(wctx, r)
			mu.Lock()
			defer mu.Unlock()
			allComplete = allComplete && complete
			spent = spent || sp
			// A worker that stopped because another did has nothing to add.
			if err != nil && firstErr == nil && wctx.Err() == nil {
				firstErr = err
			}
			if err != nil || sp {
				cancel(errStopped)
			}
		}()
	}
	wg.Wait()
	st.Complete = allComplete && firstErr == nil && !spent
	if firstErr == nil && ctx.Err() != nil {
		return spent, ctx.Err()
	}
	return spent, firstErr
}

// errStopped is how a worker tells the others to stop.
var errStopped = errors.New("another worker stopped")

// stepWalk is one step's walk; its counts are shared by its workers.
type stepWalk struct {
	o               Options
	st              *StepReport
	start, runStart time.Time
	guard           func() error
	replicas        *replicaThrottle
	mu              sync.Mutex // st, OnBatch, the replica throttle
}

// walk runs the batches of one range to its end.
func (w *stepWalk) walk(ctx context.Context, r store.Range) (complete, spent bool, err error) {
	o, st := w.o, w.st
	batchCtx := context.WithoutCancel(ctx)
	cursor := r.From
	for {
		if err := ctx.Err(); err != nil {
			return false, false, err
		}
		if o.MaxDuration > 0 && time.Since(w.runStart) >= o.MaxDuration {
			return false, true, nil
		}
		if err := w.guard(); err != nil {
			return false, false, fmt.Errorf("step %s: stopped: %w", st.Name, err)
		}
		w.mu.Lock()
		spent, err := w.replicas.wait(ctx, st.Name, w.runStart)
		w.mu.Unlock()
		if err != nil || spent {
			return false, spent, err
		}
		var retries int
		res, err := deleteWithRetry(ctx, batchCtx, o, st.Name, store.DeleteBatchParams{Target: st.Target, Cutoff: st.Cutoff, Max: o.BatchSize, After: cursor, Until: r.Until}, &retries)
		w.mu.Lock()
		st.Retries += retries
		if err != nil {
			w.mu.Unlock()
			return false, false, err
		}
		st.Batches++
		st.Deleted += res.Deleted
		total := st.Deleted
		if o.OnBatch != nil {
			o.OnBatch(BatchEvent{Step: st.Name, Deleted: res.Deleted, StepDeleted: total, StepDuration: time.Since(w.start)})
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
			t := time.NewTimer(o.BatchInterval)
			select {
			case <-ctx.Done():
				t.Stop()
				return false, false, ctx.Err()
			case <-t.C:
			}
		}
	}
}

// countStep is a step of a dry run: one count, nothing deleted.
func countStep(ctx context.Context, o Options, st *StepReport, earlier []store.Step) error {
	start := time.Now()
	n, err := o.Store.CountMatches(ctx, store.CountParams{Step: store.Step{Target: st.Target, Cutoff: st.Cutoff}, Earlier: earlier})
	st.Duration = time.Since(start)
	if err != nil {
		return fmt.Errorf("step %s: %w", st.Name, err)
	}
	st.Deleted, st.Complete = n, true
	if o.OnBatch != nil {
		o.OnBatch(BatchEvent{Step: st.Name, Deleted: n, StepDeleted: n, StepDuration: st.Duration})
	}
	return nil
}

func joinKinds(kinds []Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

// deleteWithRetry runs one batch, retrying transient failures with a
// doubling pause. Each failed attempt was rolled back by the database, so
// retrying from the same cursor is safe.
func deleteWithRetry(ctx, batchCtx context.Context, o Options, step string, p store.DeleteBatchParams, retries *int) (store.DeleteBatchResult, error) {
	res, err := retry(ctx, o.Retries, o.RetryBackoff, o.Logger, retries, func() (store.DeleteBatchResult, error) {
		attempt, cancel := batchCtx, context.CancelFunc(func() {})
		if o.StatementTimeout > 0 {
			attempt, cancel = context.WithTimeout(batchCtx, o.StatementTimeout)
		}
		defer cancel()
		return o.Store.DeleteBatch(attempt, p)
	})
	if err != nil && ctx.Err() == nil {
		return res, fmt.Errorf("step %s: %w", step, err)
	}
	return res, err
}

// resolveRules turns RulesAuto into a rule set by reading django_migrations.
func resolveRules(ctx context.Context, s store.Store, r Rules) (Rules, string, error) {
	if r != RulesAuto {
		return r, "chosen by setting", nil
	}
	m, err := s.AppliedMigrations(ctx, store.AppliedMigrationsParams{App: "oauth2_provider"})
	if err != nil {
		return "", "", fmt.Errorf("choose rules: %w", err)
	}
	if !m.LedgerExists {
		return RulesDOT34, "auto: no django_migrations table (not a database Django migrated)", nil
	}
	highest, name := -1, ""
	for _, n := range m.Names {
		num, _, _ := strings.Cut(n, "_")
		if v, err := strconv.Atoi(num); err == nil && v > highest {
			highest, name = v, n
		}
	}
	switch {
	case highest < 0:
		return RulesDOT34, "auto: no oauth2_provider migration recorded in django_migrations (tables made by --create-schema or by hand)", nil
	case highest <= 14:
		return RulesDOT33, fmt.Sprintf("auto: highest applied oauth2_provider migration is %s (DOT 3.3 or older)", name), nil
	default:
		return RulesDOT34, fmt.Sprintf("auto: highest applied oauth2_provider migration is %s (DOT 3.4 or newer)", name), nil
	}
}
