package cleanup

// The options of a cleartokens run (Clear): DOT's settings, the kinds of
// token, the lock policy, and how they are checked.

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

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
	// MaxRowsPerSecond limits how fast the run deletes, over all its steps
	// and workers together, for a server whose live traffic must not feel
	// it: batches are then at most a tenth of a second's rows (and at most
	// BatchSize), and each waits until the rows before it are paid for.
	// 0: no limit.
	MaxRowsPerSecond int
	// Now is the moment the run compares with; zero means time.Now(). It is
	// read once, at the start.
	Now time.Time
	// Rules picks the rule set; empty means RulesAuto.
	Rules Rules
	// Logger receives a debug record per batch; nil means none.
	Logger *slog.Logger
	// OnBatch, when set, is called after every committed batch.
	OnBatch func(BatchEvent)
	// OnStart, when set, is called once the run has decided its rules and
	// steps, before the first batch: the report so far (rules, now,
	// warnings, the steps with those skipped marked).
	OnStart func(Report)
	// OnStep, when set, is called as each step that ran ends, with what it
	// did (its DOT line is StepReport.Line), also when it ended in an
	// error or an interruption (its whole batches).
	OnStep func(StepReport)

	// Lock decides what happens when another cleaner works on the same
	// tables: LockSkip (the default) returns ErrLocked at once, LockWait
	// waits for it, LockNone takes no lock. A run that holds the lock
	// fences every batch by it (store.DeleteBatchParams.Lock): a batch
	// commits only while the lock is held. A lost lock (its connection
	// killed, the server restarted) is taken again, without waiting, if
	// no other run took it meanwhile, and the run goes on (at most Retries
	// times a run); if another run holds it, the run stops with an error
	// matching store.ErrLockLost.
	Lock LockPolicy
	// Retries is how often a batch that failed with a transient error
	// (store.ErrTransient: serialization failure, deadlock, lock or
	// statement timeout, dropped connection, a server restarting or full,
	// busy SQLite) is tried again; 0 means DefaultRetries (so that options
	// left unset are safe), and NoRetries none.
	Retries int
	// RetryBackoff is the first pause before a retry, doubled each time up
	// to 30 times as long; 0 means DefaultRetryBackoff.
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
			return nil, &OptionError{Field: "Options.Only", Value: strconvQuote(string(k)), Problem: "is not a token kind: want access, refresh, idtoken, grant or par"}
		}
	}
	if len(kinds) == 0 {
		return nil, &OptionError{Field: "Options.Only", Value: strconvQuote(s), Problem: "names no token kind"}
	}
	return kinds, nil
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

// MaxBatchSize bounds BatchSize (and CIMDOptions.BatchSize): one
// transaction of a million rows is already more than any server wants to
// hold its locks for.
const MaxBatchSize = 1_000_000

// MaxWorkers bounds Workers: each works on its own connection.
const MaxWorkers = 32

// DefaultRetries is how often a transiently failed batch is retried.
const DefaultRetries = 5

// LockName is what the single-runner lock is called in the store.
const LockName = "cleartokens"

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
		return &OptionError{Field: "Options.Store", Problem: "is required"}
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BatchSize > MaxBatchSize {
		return &OptionError{Field: "Options.BatchSize", Value: o.BatchSize, Problem: fmt.Sprintf("must be at most %d (a batch is one transaction)", MaxBatchSize)}
	}
	if o.Workers > MaxWorkers {
		return &OptionError{Field: "Options.Workers", Value: o.Workers, Problem: fmt.Sprintf("must be at most %d (each holds a connection and a transaction)", MaxWorkers)}
	}
	for _, c := range []struct {
		field string
		bad   bool
		value any
	}{
		{"BatchSize", o.BatchSize < 0, o.BatchSize},
		{"BatchInterval", o.BatchInterval < 0, o.BatchInterval},
		{"MaxRowsPerSecond", o.MaxRowsPerSecond < 0, o.MaxRowsPerSecond},
		{"RefreshTokenExpire", o.RefreshTokenExpire < 0, o.RefreshTokenExpire},
		{"RefreshTokenGracePeriod", o.RefreshTokenGracePeriod < 0, o.RefreshTokenGracePeriod},
		{"Workers", o.Workers < 0, o.Workers},
		{"MaxReplicaLag", o.MaxReplicaLag < 0, o.MaxReplicaLag},
		{"MaxDuration", o.MaxDuration < 0, o.MaxDuration},
		{"KeepIfYounger", o.KeepIfYounger < 0, o.KeepIfYounger},
	} {
		if c.bad {
			return &OptionError{Field: "Options." + c.field, Value: c.value, Problem: "must not be negative"}
		}
	}
	for _, k := range o.Only {
		if _, err := ParseKinds(string(k)); err != nil {
			return err
		}
	}
	if err := checkControl("Options", o.Now, o.Lock, &o.Retries, &o.RetryBackoff, o.StatementTimeout); err != nil {
		return err
	}
	r, err := ParseRules(string(o.Rules))
	if err != nil {
		return err
	}
	o.Rules = r
	return nil
}

func (o *Options) control() control {
	return control{lock: o.Lock, retries: o.Retries, retryBackoff: o.RetryBackoff, statementTimeout: o.StatementTimeout, dryRun: o.DryRun, logger: o.Logger}
}

// OptionError is an option out of range, named by its field
// ("Options.BatchSize"). It matches ErrInvalidOptions (and a sentinel of
// its own where it has one, such as ErrBatchSize); a command translates
// Field into its flag.
type OptionError struct {
	Field   string
	Value   any // nil when the problem is the field's absence
	Problem string
	// sentinel is a more specific error it matches too.
	sentinel error
}

func (e *OptionError) Error() string {
	if e.Value == nil {
		return fmt.Sprintf("%s %s", e.Field, e.Problem)
	}
	return fmt.Sprintf("%s %v: %s", e.Field, e.Value, e.Problem)
}

// Is makes an OptionError match ErrInvalidOptions.
func (e *OptionError) Is(target error) bool {
	return target == ErrInvalidOptions || (e.sentinel != nil && target == e.sentinel)
}

// strconvQuote shows a value given as text quoted, so that spaces and
// an empty string show.
func strconvQuote(s string) string { return strconv.Quote(s) }

func joinKinds(kinds []Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}
