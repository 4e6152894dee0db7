// Package sqlstore implements store.Store on database/sql through sqlx,
// with one dialect per database, each in its own file set: PostgreSQL
// (postgres*.go), SQLite (sqlite*.go) and MySQL/MariaDB (mysql*.go).
//
// It imports no database driver: a program links the ones it imports,
// each through its own package, for Open to take its URLs:
//
//	import (
//		"github.com/oauthkit/oauthkit/store/sqlstore"
//		_ "github.com/oauthkit/oauthkit/store/sqlstore/postgres" // lib/pq
//	)
//
// (sqlstore/sqlite: modernc.org/sqlite, pure Go; sqlstore/mysql:
// github.com/go-sql-driver/mysql). New takes a handle a server already
// has, on lib/pq, pgx's stdlib or modernc.org/sqlite without any of them
// (their errors are read by SQLSTATE or result code), or on
// go-sql-driver/mysql with sqlstore/mysql imported.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore/internal/drivers"
)

// ErrNoFile: the SQLite file a URL names does not exist (and Open was not
// given AllowCreate). It also matches fs.ErrNotExist.
var ErrNoFile = errors.New("the database file does not exist")

// Store implements store.Store.
type Store struct {
	db      *sqlx.DB
	d       dialect
	tables  store.Tables
	display string
	ownsDB  bool
	// walkByID makes every dialect walk tables by primary key.
	walkByID bool
	// walk, when not walkUndecided, is how PostgreSQL walks a rule that
	// can be driven from another table, whatever the statistics say
	// (for tests, which run both walks on tables too small to tell).
	walk walkChoice
	// source is where Open connected (zero for New).
	source DataSource
	// namedPAR: WithTables named the pushed-authorization-request table
	// (a swapped model), so it must exist.
	namedPAR bool

	quoted map[tableRole]string // validated once at construction

	colsMu  sync.Mutex
	appCols []column // the application table's layout, read once
}

var _ store.Store = (*Store)(nil)

type config struct {
	tables      store.Tables
	namedPAR    bool
	dialect     Dialect
	allowCreate bool
	walkByID    bool
	walk        walkChoice
	lease       time.Duration
	forceLease  bool
}

// Option configures Open and New.
type Option func(*config)

// WithTables sets the table names; empty fields keep DOT's defaults.
func WithTables(t store.Tables) Option { return func(c *config) { c.tables = t } }

// WithDialect names the dialect of a handle given to New whose driver
// sqlstore does not recognise (for example pgx's stdlib driver).
func WithDialect(d Dialect) Option { return func(c *config) { c.dialect = d } }

// AllowCreate lets Open create a missing SQLite file. Without it a SQLite
// URL must name an existing file: a database the user named is never
// created or altered unless asked.
func AllowCreate() Option { return func(c *config) { c.allowCreate = true } }

// WalkByPrimaryKey makes the cleaner walk tables by primary key on every
// database. PostgreSQL 14 and later are otherwise walked by physical
// position (ctid), which reads each table about once; the walk by key is
// what older servers get. For comparing the two, in tests and benchmarks.
func WalkByPrimaryKey() Option { return func(c *config) { c.walkByID = true } }

// WithLockLease sets how long the lease lock of a Galera cluster is held
// without renewal (default DefaultLockLease): a killed run blocks the next
// one for at most this long. It does not apply to other databases.
func WithLockLease(d time.Duration) Option { return func(c *config) { c.lease = d } }

// WithLeaseLock makes a MySQL/MariaDB store use the lease lock (in the
// lock table) even when the server is not a Galera node: for multi-primary
// setups that wsrep_on does not show, and for tests.
func WithLeaseLock() Option { return func(c *config) { c.forceLease = true } }

func buildConfig(opts []Option) (config, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	c.namedPAR = c.tables.PushedAuthorizationRequest != "" && c.tables.PushedAuthorizationRequest != store.DefaultTables().PushedAuthorizationRequest
	c.tables = c.tables.WithDefaults()
	if err := c.tables.Validate(); err != nil {
		return c, err
	}
	if c.lease == 0 {
		c.lease = DefaultLockLease
	}
	if c.lease < time.Second {
		return c, fmt.Errorf("lock lease %s: must be at least 1s", c.lease)
	}
	return c, nil
}

// Open connects to the database a URL names (see ParseURL) and checks that
// it answers. It does not create or check tables: see Migrate and CheckSchema.
func Open(ctx context.Context, databaseURL string, opts ...Option) (*Store, error) {
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	ds, err := ParseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	d, _ := dialectNamed(ds.Dialect)
	db, err := d.open(ds, cfg)
	if err != nil {
		return nil, err
	}
	s := newStore(db, d, ds.Display, cfg)
	s.ownsDB, s.source = true, ds
	if err := s.ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// New wraps a connection an embedding server already has. The dialect is
// recognised from the driver (lib/pq, pgx's stdlib, modernc.org/sqlite,
// go-sql-driver/mysql) unless WithDialect names it. Close does not close db.
func New(db *sql.DB, opts ...Option) (*Store, error) {
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	var d dialect
	if cfg.dialect != "" {
		var ok bool
		if d, ok = dialectNamed(cfg.dialect); !ok {
			return nil, fmt.Errorf("sqlstore.New: unknown dialect %q", cfg.dialect)
		}
	} else {
		for _, x := range dialects {
			if x.recognizes(db.Driver()) {
				d = x
			}
		}
		if d == nil {
			return nil, fmt.Errorf("sqlstore.New: driver %T is not recognised; pass sqlstore.WithDialect", db.Driver())
		}
	}
	if d.name() == DialectMySQL && drivers.LoadMySQL() == nil {
		return nil, fmt.Errorf("sqlstore.New: %w", errNotLinked(DialectMySQL))
	}
	return newStore(sqlx.NewDb(db, d.driverName()), d, string(d.name())+" database", cfg), nil
}

func newStore(db *sqlx.DB, d dialect, display string, cfg config) *Store {
	t := cfg.tables
	if f, ok := d.(interface{ fresh(config) dialect }); ok {
		d = f.fresh(cfg) // a dialect with per-store state gets its own
	}
	s := &Store{db: db, d: d, tables: t, display: display, walkByID: cfg.walkByID, walk: cfg.walk, namedPAR: cfg.namedPAR, quoted: map[tableRole]string{}}
	for role, name := range s.names() {
		s.quoted[role] = d.quote(name)
	}
	return s
}

// names maps each role to its configured table name.
func (s *Store) names() map[tableRole]string {
	t := s.tables
	return map[tableRole]string{
		roleApplication: t.Application, roleAccess: t.AccessToken, roleRefresh: t.RefreshToken,
		roleIDToken: t.IDToken, roleGrant: t.Grant, roleUser: t.User, roleMigrations: t.Migrations, roleLock: t.Lock,
		rolePAR: t.PushedAuthorizationRequest,
	}
}

// q is a table's quoted name; name its name as configured, for messages.
func (s *Store) q(r tableRole) string    { return s.quoted[r] }
func (s *Store) name(r tableRole) string { return s.names()[r] }

func (s *Store) ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect to %s: %w: %w", s.display, store.ErrUnreachable, s.scrub(err))
	}
	return nil
}

// TimeValue is what to bind for a DOT datetime column in this store's
// database, for code that writes DOT's tables beside oauthkit: a time.Time
// in UTC for PostgreSQL; Django's text form on SQLite, where Django
// compares timestamps as text (see DjangoSQLiteTime).
func (s *Store) TimeValue(t time.Time) any { return s.d.timeArg(t) }

// Close closes the connection if Open made it. A store that New made on
// a SQLite handle keeps the descriptor its lock used open (closing it
// would drop the locks SQLite holds on that file in this process) until
// the process ends.
func (s *Store) Close() error {
	if !s.ownsDB {
		return nil
	}
	err := s.db.Close()
	if c, ok := s.d.(interface{ close() }); ok {
		c.close()
	}
	return err
}

// DjangoSQLiteTime formats t as Django writes a datetime to SQLite:
// "2024-05-01 12:30:00.123456" in UTC, without the fraction when the
// microseconds are zero.
func DjangoSQLiteTime(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.000000")
}

// tableExists reports whether a (validated) table name exists.
func (s *Store) tableExists(ctx context.Context, name string) (bool, error) {
	ok, err := s.d.tableExists(ctx, s.db, name)
	if err != nil {
		return false, fmt.Errorf("look up table %q in %s: %w", name, s.display, s.fail(err))
	}
	return ok, nil
}

// CheckWritable reports store.ErrReadOnly when the database takes no writes.
func (s *Store) CheckWritable(ctx context.Context) error {
	why, err := s.d.readOnly(ctx, s.db)
	if err != nil {
		return fmt.Errorf("check that %s takes writes: %w", s.display, s.fail(err))
	}
	if why != "" {
		return fmt.Errorf("%s %s: %w", s.display, why, store.ErrReadOnly)
	}
	return nil
}

// Replicas lists the streaming standbys the database reports.
func (s *Store) Replicas(ctx context.Context) ([]store.Replica, error) {
	r, err := s.d.replicas(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("read the standbys' replay lag in %s: %w", s.display, s.fail(err))
	}
	return r, nil
}

// CheckSchema reports the first configured table that is missing. The
// optional tables (store.Optional) are left out, but for the
// pushed-authorization-request table when WithTables named it: a swapped
// model's table that is missing is a mistake to report, not an older DOT.
func (s *Store) CheckSchema(ctx context.Context) error {
	for _, nt := range s.tables.Named() {
		if store.Optional(nt.Role) && !(nt.Role == store.RolePAR && s.namedPAR) {
			continue
		}
		ok, err := s.tableExists(ctx, nt.Name)
		if err != nil {
			return err
		}
		if !ok {
			return missingTable(s.display, nt.Role, nt.Name)
		}
	}
	return nil
}

func missingTable(display, role, name string) error {
	return fmt.Errorf("%s: %s table %q: %w (is this a django-oauth-toolkit database?)", display, role, name, store.ErrMissingTable)
}

// HasTable reports whether the table of a role exists.
func (s *Store) HasTable(ctx context.Context, p store.HasTableParams) (bool, error) {
	for _, nt := range s.tables.Named() {
		if nt.Role == p.Role {
			return s.tableExists(ctx, nt.Name)
		}
	}
	return false, fmt.Errorf("has table: unknown table role %q", p.Role)
}

// AppliedMigrations reads django_migrations for one app.
func (s *Store) AppliedMigrations(ctx context.Context, p store.AppliedMigrationsParams) (store.Migrations, error) {
	ok, err := s.tableExists(ctx, s.tables.Migrations)
	if err != nil || !ok {
		return store.Migrations{}, err
	}
	var names []string
	q := s.db.Rebind(`SELECT name FROM ` + s.q(roleMigrations) + ` WHERE app = ?`)
	if err := s.db.SelectContext(ctx, &names, q, p.App); err != nil {
		return store.Migrations{}, fmt.Errorf("read %s in %s: %w", s.tables.Migrations, s.display, s.fail(err))
	}
	return store.Migrations{LedgerExists: true, Names: names}, nil
}
