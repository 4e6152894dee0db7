// Package sqlstore implements store.Store on database/sql through sqlx,
// with one dialect per database: PostgreSQL (github.com/lib/pq) and SQLite
// (modernc.org/sqlite, pure Go).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"modernc.org/sqlite"

	"github.com/oauthkit/oauthkit/store"
)

// Dialect names the SQL dialect a Store speaks.
type Dialect string

const (
	DialectPostgres Dialect = "postgres"
	DialectSQLite   Dialect = "sqlite"
)

// Store implements store.Store.
type Store struct {
	db      *sqlx.DB
	dialect Dialect
	tables  store.Tables
	display string
	ownsDB  bool

	// Quoted table names, validated once at construction.
	qApp, qAccess, qRefresh, qID, qGrant, qUser, qMigrations string

	pg *pgState

	colsMu  sync.Mutex
	appCols []column // the application table's layout, read once
}

var _ store.Store = (*Store)(nil)

type config struct {
	tables      store.Tables
	dialect     Dialect
	allowCreate bool
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

func buildConfig(opts []Option) (config, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	c.tables = c.tables.WithDefaults()
	if err := c.tables.Validate(); err != nil {
		return c, err
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
	target, err := ParseURL(databaseURL)
	if err != nil {
		return nil, err
	}
	var db *sqlx.DB
	switch target.Dialect {
	case DialectPostgres:
		sqldb, err := sql.Open("postgres", target.DSN)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", target.Display, err)
		}
		db = sqlx.NewDb(sqldb, "postgres")
	case DialectSQLite:
		if !cfg.allowCreate {
			if _, err := os.Stat(target.Path); err != nil {
				return nil, fmt.Errorf("open %s: %w", target.Display, err)
			}
		}
		sqldb, err := sql.Open("sqlite", sqliteDSN(target.Path, cfg.allowCreate))
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", target.Display, err)
		}
		// One writer at a time is all SQLite allows; one connection also
		// keeps per-connection pragmas uniform.
		sqldb.SetMaxOpenConns(1)
		db = sqlx.NewDb(sqldb, "sqlite")
	}
	s, err := newStore(db, target.Dialect, target.Display, cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.ownsDB = true
	if err := s.ping(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// New wraps a connection an embedding server already has. The dialect is
// recognised from the driver (lib/pq or modernc.org/sqlite) unless
// WithDialect names it. Close does not close db.
func New(db *sql.DB, opts ...Option) (*Store, error) {
	cfg, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	d := cfg.dialect
	if d == "" {
		switch db.Driver().(type) {
		case *pq.Driver:
			d = DialectPostgres
		case *sqlite.Driver:
			d = DialectSQLite
		default:
			return nil, fmt.Errorf("sqlstore.New: driver %T is not recognised; pass sqlstore.WithDialect", db.Driver())
		}
	}
	if d != DialectPostgres && d != DialectSQLite {
		return nil, fmt.Errorf("sqlstore.New: unknown dialect %q", d)
	}
	driverName := "postgres"
	if d == DialectSQLite {
		driverName = "sqlite"
	}
	return newStore(sqlx.NewDb(db, driverName), d, string(d)+" database", cfg)
}

func newStore(db *sqlx.DB, d Dialect, display string, cfg config) (*Store, error) {
	t := cfg.tables
	s := &Store{
		db: db, dialect: d, tables: t, display: display,
		qApp: store.QuoteIdentifier(t.Application), qAccess: store.QuoteIdentifier(t.AccessToken),
		qRefresh: store.QuoteIdentifier(t.RefreshToken), qID: store.QuoteIdentifier(t.IDToken),
		qGrant: store.QuoteIdentifier(t.Grant), qUser: store.QuoteIdentifier(t.User),
		qMigrations: store.QuoteIdentifier(t.Migrations),
	}
	if d == DialectPostgres {
		s.pg = &pgState{}
	}
	return s, nil
}

func (s *Store) ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect to %s: %w: %w", s.display, store.ErrUnreachable, err)
	}
	return nil
}

// DB returns the underlying handle (for tests and embedding code).
func (s *Store) DB() *sqlx.DB { return s.db }

// Dialect reports which SQL dialect the store speaks.
func (s *Store) Dialect() Dialect { return s.dialect }

// Tables reports the configured table names.
func (s *Store) Tables() store.Tables { return s.tables }

// Close closes the connection if Open made it.
func (s *Store) Close() error {
	if s.ownsDB {
		return s.db.Close()
	}
	return nil
}

// timeArg is how a timestamp is bound. PostgreSQL takes time.Time for its
// timestamptz columns. Django stores SQLite timestamps as UTC text in
// Python's str(datetime) form and compares them as text, so a cutoff must
// be written the same way or the comparison is wrong.
func (s *Store) timeArg(t time.Time) any {
	if s.dialect == DialectSQLite {
		return DjangoSQLiteTime(t)
	}
	return t.UTC()
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
	var n int
	var err error
	switch s.dialect {
	case DialectPostgres:
		err = s.db.GetContext(ctx, &n, `SELECT (to_regclass($1) IS NOT NULL)::int`, store.QuoteIdentifier(name))
	default:
		schema, table := splitQualified(name)
		master := "sqlite_master"
		if schema != "" {
			master = store.QuoteIdentifier(schema) + ".sqlite_master"
		}
		err = s.db.GetContext(ctx, &n, `SELECT count(*) FROM `+master+` WHERE type = 'table' AND name = ?`, table)
	}
	if err != nil {
		return false, fmt.Errorf("look up table %q in %s: %w", name, s.display, err)
	}
	return n > 0, nil
}

// CheckSchema reports the first configured table (migrations aside) that is missing.
func (s *Store) CheckSchema(ctx context.Context) error {
	for _, nt := range s.tables.Named() {
		if nt.Role == "migrations" {
			continue // optional: a database oauthkit created may lack it
		}
		ok, err := s.tableExists(ctx, nt.Name)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s: %s table %q: %w (is this a django-oauth-toolkit database? run with --create-schema to create the tables)", s.display, nt.Role, nt.Name, store.ErrMissingTable)
		}
	}
	return nil
}

// AppliedMigrations reads django_migrations for one app.
func (s *Store) AppliedMigrations(ctx context.Context, p store.AppliedMigrationsParams) (store.Migrations, error) {
	ok, err := s.tableExists(ctx, s.tables.Migrations)
	if err != nil || !ok {
		return store.Migrations{}, err
	}
	var names []string
	q := s.db.Rebind(`SELECT name FROM ` + s.qMigrations + ` WHERE app = ?`)
	if err := s.db.SelectContext(ctx, &names, q, p.App); err != nil {
		return store.Migrations{}, fmt.Errorf("read %s in %s: %w", s.tables.Migrations, s.display, err)
	}
	return store.Migrations{LedgerExists: true, Names: names}, nil
}

func isUniqueViolation(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Code == "23505"
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		// SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555).
		return sqErr.Code() == 2067 || sqErr.Code() == 1555
	}
	return false
}
