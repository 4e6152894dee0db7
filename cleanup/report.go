package cleanup

// What a run reports: per step, in DOT's wording, and as JSON.

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/oauthkit/oauthkit/store"
)

// BatchEvent describes one committed batch, for progress reporting.
type BatchEvent struct {
	Step         string
	Deleted      int64 // in this batch
	StepDeleted  int64 // in this step so far
	StepDuration time.Duration
	// Message is the step's wording in DOT ("Expired access tokens deleted").
	Message string
	// StepNumber counts the steps that run from 1; Steps is how many run.
	StepNumber, Steps int
	// Fraction is how much of the step's walk is done (0 to 1), where the
	// store can tell (its position in the table) and the step has one
	// worker; 0 when unknown.
	Fraction float64
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
