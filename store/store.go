// Package store defines what oauthkit needs from a database that holds
// django-oauth-toolkit (DOT) tables: the Store interface, one params struct
// per operation, and the domain types and sentinel errors shared by every
// implementation. Implementations live in subpackages (store/sqlstore), and
// store/storetest is the conformance suite each of them runs.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Implementations wrap them with %w and the details (which
// table, which URL), so callers can match them with errors.Is.
var (
	// ErrMissingTable: a table oauthkit needs does not exist.
	ErrMissingTable = errors.New("table does not exist")
	// ErrInvalidIdentifier: a configured table name is not a plain SQL identifier.
	ErrInvalidIdentifier = errors.New("invalid SQL identifier")
	// ErrInvalidURL: a database URL that cannot be understood.
	ErrInvalidURL = errors.New("invalid database URL")
	// ErrUnreachable: the database could not be reached, or refused the
	// connection (unknown role or database, wrong password).
	ErrUnreachable = errors.New("cannot connect to the database")
	// ErrDuplicateClientID: an application with that client_id already exists.
	ErrDuplicateClientID = errors.New("client_id already exists")
	// ErrReadOnly: the database takes no writes: a PostgreSQL standby in
	// recovery, or a read-only session. Run the command on the primary.
	ErrReadOnly = errors.New("the database is read-only")
	// ErrLockUnavailable: the single-runner lock cannot be taken on this
	// database at all (a Galera cluster without the lease table, a SQLite
	// file that cannot be opened for its lock); a run may go without one
	// if it serialises itself.
	ErrLockUnavailable = errors.New("the single-runner lock cannot be taken here")
	// ErrLocked: another process holds the single-runner lock.
	ErrLocked = errors.New("lock held by another process")
	// ErrTransient marks a failure worth retrying: a serialization failure,
	// a deadlock, a lock or statement timeout, a dropped connection, a busy
	// SQLite file. The statement that failed was rolled back.
	ErrTransient = errors.New("transient database failure")
)

// LockParams are the inputs of Store.Lock.
type LockParams struct {
	// Name says what the lock is for, e.g. "cleartokens". The lock is also
	// keyed by the store's table set, so cleaners of different table sets
	// do not exclude each other.
	Name string
	// Wait blocks until the lock is free (or ctx ends) instead of failing
	// at once with ErrLocked.
	Wait bool
}

// Unlocker releases a lock taken by Store.Lock.
type Unlocker interface {
	// Unlock releases the lock.
	Unlock() error
	// Err is nil while the lock is held, and says why once it was lost (the
	// connection that held it died, say), so that a long run can stop
	// rather than go on unguarded.
	Err() error
}

// ErrLockLost: the single-runner lock was lost during a run. A batch
// fenced by it (DeleteBatchParams.Lock) was rolled back.
var ErrLockLost = errors.New("the single-runner lock was lost")

// Target names one deletion rule of DOT's cleartokens. Each is a condition
// on one table; the Store re-checks it inside the deleting statement, so a
// token that changes while the cleaner runs is never deleted by mistake.
type Target int

const (
	// RefreshRevokedBefore: refresh tokens with revoked < Cutoff (DOT ≤ 3.3).
	RefreshRevokedBefore Target = iota + 1
	// RefreshRevokedAtOrBefore: refresh tokens with revoked <= Cutoff (DOT 3.4).
	RefreshRevokedAtOrBefore
	// RefreshOrphaned: refresh tokens with revoked IS NULL and
	// access_token_id IS NULL (DOT 3.4). Cutoff is not used.
	RefreshOrphaned
	// RefreshAccessExpiredBefore: refresh tokens whose access token has
	// expires < Cutoff, revoked or not (DOT ≤ 3.3).
	RefreshAccessExpiredBefore
	// RefreshLiveAccessExpiredAtOrBefore: refresh tokens with revoked IS NULL
	// whose access token has expires <= Cutoff (DOT 3.4).
	RefreshLiveAccessExpiredAtOrBefore
	// AccessExpiredBefore: access tokens with expires < Cutoff that no
	// refresh token points at.
	AccessExpiredBefore
	// IDTokenExpiredBefore: ID tokens with expires < Cutoff that no access
	// token points at.
	IDTokenExpiredBefore
	// GrantExpiredBefore: grants with expires < Cutoff.
	GrantExpiredBefore
	// PARExpiredBefore: pushed authorization requests (DOT main's table)
	// with expires < Cutoff.
	PARExpiredBefore
)

var targetNames = map[Target]string{
	RefreshRevokedBefore:               "refresh-revoked-before",
	RefreshRevokedAtOrBefore:           "refresh-revoked-at-or-before",
	RefreshOrphaned:                    "refresh-orphaned",
	RefreshAccessExpiredBefore:         "refresh-access-expired-before",
	RefreshLiveAccessExpiredAtOrBefore: "refresh-live-access-expired-at-or-before",
	AccessExpiredBefore:                "access-expired-before",
	IDTokenExpiredBefore:               "idtoken-expired-before",
	GrantExpiredBefore:                 "grant-expired-before",
	PARExpiredBefore:                   "par-expired-before",
}

func (t Target) String() string {
	if s, ok := targetNames[t]; ok {
		return s
	}
	return "unknown-target"
}

// Cursor marks how far a walk over a table has come. It is opaque to
// callers: the zero value means "from the start", and each DeleteBatch
// returns the cursor to pass to the next call. Walking forward means no
// batch rescans rows an earlier batch already passed, which matters because
// DOT's tables have no index on expires or revoked.
type Cursor string

// DeleteBatchParams are the inputs of Store.DeleteBatch.
type DeleteBatchParams struct {
	Target Target
	// Cutoff is the time the Target's condition compares with.
	Cutoff time.Time
	// Max is the most rows deleted by this batch (its own transaction).
	Max int
	// After continues the walk where the previous batch stopped.
	After Cursor
	// Until ends the walk before this cursor (a Range's Until); empty: at
	// the end of the table.
	Until Cursor
	// Lock, when set, fences the batch: it commits only if this lock (one
	// this store's Lock returned) is still held, checked inside the batch's
	// own transaction just before its commit; otherwise it is rolled back
	// and the error matches ErrLockLost. Nil: the batch is unfenced.
	Lock Unlocker
}

// PartitionParams are the inputs of Store.Partition.
type PartitionParams struct {
	Target Target
	// Cutoff is the time the batches of the walk will compare with (a
	// store may choose how to walk by how many rows match it).
	Cutoff time.Time
	// Parts is how many disjoint parts the walk is cut into (at most).
	Parts int
}

// Range is one part of a table's walk: from From (a cursor to pass as
// After; empty: the start) up to Until (exclusive; empty: the end).
// Ranges of one Partition call are disjoint and cover the table, rows
// added meanwhile included.
type Range struct {
	From, Until Cursor
}

// DeleteBatchResult is what one batch did.
type DeleteBatchResult struct {
	// Deleted is the number of rows deleted (and committed).
	Deleted int64
	// Next is the cursor for the following batch.
	Next Cursor
	// Done is true when the walk reached the end of the table: no row after
	// Next matched when the batch ran.
	Done bool
	// Walked is where the walk is after this batch, and Total where it
	// ends, in the store's own units (pages, ids): for a progress display
	// (zero when the store cannot tell).
	Walked, Total int64
}

// Step is one deletion rule with its cutoff, as a run applies it.
type Step struct {
	Target Target
	Cutoff time.Time
}

// CountMatchesParams are the inputs of Store.CountMatches.
type CountMatchesParams struct {
	Step
	// Earlier are the steps that run before this one in the same run: rows
	// they would delete count as gone (a refresh token deleted earlier no
	// longer holds on to its access token, and so on), so that the count
	// equals what a real run would delete in this step.
	Earlier []Step
}

// Migrations describes Django's migration ledger for one app.
type Migrations struct {
	// LedgerExists is false when the database has no django_migrations table.
	LedgerExists bool
	// Names are the applied migration names of the app, e.g.
	// "0012_add_token_checksum", in no particular order.
	Names []string
}

// HasTableParams are the inputs of Store.HasTable.
type HasTableParams struct {
	// Role is the table's role as Tables.Named names it ("par", …).
	Role string
}

// AppliedMigrationsParams are the inputs of Store.AppliedMigrations.
type AppliedMigrationsParams struct {
	App string // e.g. "oauth2_provider"
}

// Application is a row of DOT's application table, as createapplication
// writes it. Columns that only exist in newer DOT layouts are filled with
// DOT's model defaults when the table has them.
type Application struct {
	// ID is the row's primary key (set by GetApplication; InsertApplication
	// returns it).
	ID                     int64
	ClientID               string
	UserID                 *int64
	RedirectURIs           string
	PostLogoutRedirectURIs string
	ClientType             string
	AuthorizationGrantType string
	ClientSecret           string
	HashClientSecret       bool
	Name                   string
	SkipAuthorization      bool
	Algorithm              string
	AllowedOrigins         string
	Created                time.Time
	Updated                time.Time
}

// GetApplicationParams are the inputs of Store.GetApplication.
type GetApplicationParams struct{ ClientID string }

// UserExistsParams are the inputs of Store.UserExists.
type UserExistsParams struct {
	// ID is the user table's primary key.
	ID int64
}

// InsertApplicationParams are the inputs of Store.InsertApplication.
type InsertApplicationParams struct {
	Application Application
}

// ApplicationColumns maps each column of the application table in hand to
// its declared maximum length (0: no limit). DOT's layouts differ: 3.0's
// client_id holds 100 characters and 3.4's 255, and tables older than DOT
// 2.0 have no hash_client_secret (that DOT stored secrets in clear).
type ApplicationColumns map[string]int

// Has reports whether the table has the column.
func (c ApplicationColumns) Has(name string) bool { _, ok := c[name]; return ok }

// ErrNoCIMD: the application table has no CIMD columns
// (registration_source, cimd_expires_at): its DOT is older than 3.4.
var ErrNoCIMD = errors.New("this database's django-oauth-toolkit has no CIMD registration (DOT 3.4 or later)")

// PruneCIMDApplicationsParams are the inputs of Store.PruneCIMDApplications: one batch
// of DOT 3.4.1's clearcimdapplications.
type PruneCIMDApplicationsParams struct {
	// Now is the moment cimd_expires_at and the tokens' expiry compare with.
	Now time.Time
	// After is the primary-key cursor: the batch looks at candidates with
	// a greater id (0: from the start).
	After int64
	// Max is the most candidates the batch looks at.
	Max int
	// DryRun rolls the batch's transaction back instead of committing.
	DryRun bool
	// Gone are access tokens that earlier batches of a dry run would have
	// deleted by cascade (ExtraAccessTokens): they count as gone in the
	// liveness check, as after a real earlier batch.
	Gone []int64
	// Lock fences the batch, as DeleteBatchParams.Lock does.
	Lock Unlocker
}

// PruneCIMDResult is what one batch did (or, in a dry run, would do).
type PruneCIMDResult struct {
	// Candidates is how many expired CIMD applications the page held; zero
	// means the walk is done.
	Candidates int
	// Locked is how many of them were still CIMD and expired under the lock.
	Locked int
	// Deleted is how many applications were deleted: those locked that hold
	// no live token or grant.
	Deleted int64
	// Next is the cursor for the next batch: the page's last id.
	Next int64
	// The cascade, as Django's collector runs it: the deleted applications'
	// access, refresh and ID tokens and grants, and the access tokens of
	// other applications bound to those ID tokens.
	AccessTokens, RefreshTokens, IDTokens, Grants int64
	// ExtraAccessTokens are the ids of those other applications' access
	// tokens (for the Gone of a dry run's next batch).
	ExtraAccessTokens []int64
}

// Replica is what the primary knows of one streaming standby.
type Replica struct {
	// Name is the standby's application_name, or its address.
	Name string
	// ReplayLag is the server's own measure of how far behind the standby
	// replays; HasReplayLag is false when the server shows none (it shows
	// none on a link that has gone idle).
	ReplayLag    time.Duration
	HasReplayLag bool
	// BytesBehind is the WAL written on the primary that the standby has
	// not replayed yet.
	BytesBehind int64
	// ReplayPosition is opaque: it changes when the standby replays more.
	ReplayPosition string
	// LastReply is when the standby last reported (zero when unknown).
	LastReply time.Time
}

// Store is the database side of oauthkit. Every method is safe for
// concurrent use and does its own transaction.
type Store interface {
	// CheckSchema reports ErrMissingTable, naming the table, when one of the
	// configured tables does not exist.
	CheckSchema(ctx context.Context) error
	// CheckWritable reports ErrReadOnly, saying why, when the database takes
	// no writes (a standby in recovery, a read-only session).
	CheckWritable(ctx context.Context) error
	// Migrate creates the DOT 3.4.1 tables (and django_migrations) where
	// they do not exist yet. It never alters an existing table.
	Migrate(ctx context.Context) error
	// DeleteBatch deletes at most Max rows matching Target, walking forward
	// from After, in one transaction, together with DOT's SET_NULL updates
	// of the rows that point at the deleted ones.
	DeleteBatch(ctx context.Context, p DeleteBatchParams) (DeleteBatchResult, error)
	// Partition cuts the walk of a target's table into at most Parts
	// disjoint ranges that batches on separate connections can clean at the
	// same time. A database that takes one writer at a time (SQLite)
	// returns one range.
	Partition(ctx context.Context, p PartitionParams) ([]Range, error)
	// CountMatches counts what a step would delete, deleting nothing.
	CountMatches(ctx context.Context, p CountMatchesParams) (int64, error)
	// HasTable reports whether the table of a role exists: the optional
	// ones (see Optional) tell which DOT made the database.
	HasTable(ctx context.Context, p HasTableParams) (bool, error)
	// AppliedMigrations reads Django's migration ledger.
	AppliedMigrations(ctx context.Context, p AppliedMigrationsParams) (Migrations, error)
	// ApplicationColumns reports the application table's columns and the
	// declared lengths of its character columns.
	ApplicationColumns(ctx context.Context) (ApplicationColumns, error)
	// GetApplication returns the application with that client_id, or
	// (nil, nil) when there is none.
	GetApplication(ctx context.Context, p GetApplicationParams) (*Application, error)
	// UserExists reports whether the user table has that id.
	UserExists(ctx context.Context, p UserExistsParams) (bool, error)
	// InsertApplication inserts one application, supplying every NOT NULL
	// column of the table in hand. A taken client_id gives ErrDuplicateClientID.
	InsertApplication(ctx context.Context, p InsertApplicationParams) (int64, error)
	// PruneCIMDApplications runs one batch of DOT 3.4.1's
	// clearcimdapplications in one transaction: of the next Max
	// applications with registration_source "cimd" and cimd_expires_at
	// before Now, it locks those still so, and deletes the ones that hold
	// no live access token, ID token or grant (expires after Now) and no
	// unrevoked refresh token, with Django's cascade. ErrNoCIMD on a layout
	// without the CIMD columns.
	PruneCIMDApplications(ctx context.Context, p PruneCIMDApplicationsParams) (PruneCIMDResult, error)
	// Replicas lists the streaming standbys attached to the database (none
	// for a database that has no replication, such as SQLite).
	Replicas(ctx context.Context) ([]Replica, error)
	// Lock takes a lock held across processes and machines until Unlock
	// (or until the process dies): on PostgreSQL a transaction-level
	// advisory lock held by a transaction open on its own connection; on
	// MySQL/MariaDB GET_LOCK on a held connection (on a Galera cluster a
	// lease row in the lock table); on SQLite a lock on one byte of the
	// database file itself.
	Lock(ctx context.Context, p LockParams) (Unlocker, error)
	// Close releases what the store opened itself (not a handle given to it).
	Close() error
}
