package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/store"
)

// Dialect names the SQL dialect a Store speaks.
type Dialect string

// The dialects sqlstore speaks.
const (
	DialectPostgres Dialect = "postgres"
	DialectSQLite   Dialect = "sqlite"
	// DialectMySQL is MySQL and MariaDB (Galera included).
	DialectMySQL Dialect = "mysql"
)

// dialect is everything that differs between databases. Each database
// has one implementation in its own file set (postgres*.go, sqlite*.go,
// mysql*.go); the rest of the package is written once against this
// interface, so a new database is a new file set, not a new branch in
// many places. It is made of small interfaces by concern: what a dialect
// says (its URLs, its SQL), what it reads (catalog, errors), and the few
// things only it can execute (the walk, the lock).
type dialect interface {
	connector
	sqlBuilder
	catalog
	errorReader
	walker
	locker
}

// connector is how a database is named and opened.
type connector interface {
	// name is the Dialect it implements.
	name() Dialect
	// schemes are the URL schemes it opens, lower case ("postgres", …).
	schemes() []string
	// urlForms shows its URL forms for messages ("postgres://…").
	urlForms() []string
	// parseURL reads a URL of one of its schemes: what to hand the driver,
	// and how to show it. scheme is lower case; u is nil when the URL is not
	// hierarchical (sqlite:PATH).
	parseURL(raw, scheme string, u *url.URL) (DataSource, error)
	// open opens the driver on a parsed data source.
	open(ds DataSource, cfg config) (*sqlx.DB, error)
	// driverName is sqlx's name for the bind style ("postgres", "sqlite").
	driverName() string
	// recognizes reports whether a *sql.DB handed to New uses its driver.
	recognizes(d driver.Driver) bool
}

// sqlBuilder is the SQL text that differs: pure functions, no I/O.
type sqlBuilder interface {
	// quote quotes a validated, possibly schema-qualified identifier.
	quote(name string) string
	// timeArg is how a timestamp is bound for DOT's datetime columns.
	timeArg(t time.Time) any
	// idSet is a subquery of the ids in a JSON array bound to one "?"
	// ("[3,5,8]"): one parameter, however many ids.
	idSet() string
	// nullRefs is the UPDATE that sets column col of table to NULL where
	// it names one of the ids a subquery (of one column, id) yields.
	nullRefs(table, col, ids string) string
	// deleteWhere is a DELETE of table's rows where cond holds (cond names
	// the table's columns unqualified).
	deleteWhere(table, cond string) string
	// lockRows is the clause that locks the rows a SELECT reads until the
	// transaction ends ("FOR UPDATE"), or "" where the transaction already
	// excludes other writers (SQLite).
	lockRows() string
}

// catalog reads (and, for Migrate, makes) what the database holds.
type catalog interface {
	// readOnly says why the database takes no writes, or "" when it does.
	readOnly(ctx context.Context, db *sqlx.DB) (string, error)
	// tableExists reports whether a validated table name exists.
	tableExists(ctx context.Context, db *sqlx.DB, name string) (bool, error)
	// readColumns reads a table's columns, nullability and declared lengths.
	readColumns(ctx context.Context, db *sqlx.DB, table string) ([]column, error)
	// migrate creates DOT 3.4.1's tables where missing; r fills the DDL's
	// {placeholders} with the configured table names.
	migrate(ctx context.Context, db *sqlx.DB, r *strings.Replacer) error
	// insertReturningID runs an INSERT and returns the new row's id.
	insertReturningID(ctx context.Context, db *sqlx.DB, query string, args []any) (int64, error)
	// replicas reads what the primary knows of its standbys.
	replicas(ctx context.Context, db *sqlx.DB) ([]store.Replica, error)
	// lockScope is what, besides the table names, tells one table set from
	// another in the same server (PostgreSQL: database and schema).
	lockScope(ctx context.Context, db *sqlx.DB) (string, error)
}

// errorReader reads the driver's errors.
type errorReader interface {
	// isTransient reports a driver error worth retrying.
	isTransient(err error) bool
	// isConnectionLost reports a server's error that ended the session
	// (terminated, shutting down), beyond the network failures every
	// driver shares.
	isConnectionLost(err error) bool
	// isMissingTable reports an error about a table that does not exist.
	isMissingTable(err error) bool
	// isUniqueViolation reports a unique constraint failure.
	isUniqueViolation(err error) bool
	// safeMessage is the driver error's text without anything that may
	// hold a value of the row (PostgreSQL's "Failing row contains …"), and
	// false when err is not this driver's.
	safeMessage(err error) (string, bool)
}

// walker is the walk of a deletion rule, which each database runs its own
// way (PostgreSQL by physical position, the others by primary key).
type walker interface {
	// deleteBatch is one batch of one deletion rule, in one transaction,
	// re-checking the rule inside the statements that change rows.
	// Its transaction commits through commitFenced(f).
	deleteBatch(ctx context.Context, s *Store, r boundRule, p store.DeleteBatchParams, f fence) (store.DeleteBatchResult, error)
	// partition cuts the walk of table into at most parts disjoint ranges.
	partition(ctx context.Context, s *Store, r boundRule, parts int) ([]store.Range, error)
}

// locker takes the single-runner lock, each database with its own kind
// (the polling is pollLock, the key's hash lockHash).
type locker interface {
	// lock takes the single-runner lock named key.
	lock(ctx context.Context, s *Store, key string, p store.LockParams) (store.Unlocker, error)
}

var (
	_ dialect = postgresDialect{}
	_ dialect = sqliteDialect{}
	_ dialect = mysqlDialect{}
)

// dialects are the databases sqlstore speaks.
var dialects = []dialect{postgresDialect{}, sqliteDialect{}, mysqlDialect{}}

func dialectNamed(d Dialect) (dialect, bool) {
	for _, x := range dialects {
		if x.name() == d {
			return x, true
		}
	}
	return nil, false
}

// column is what the store learns of one table column.
type column struct {
	Name    string
	NotNull bool
	MaxLen  int // 0: no limit
}

// rowsToColumns collects catalog rows scanned by scan.
func rowsToColumns(rows *sql.Rows, scan func(*sql.Rows) (column, error)) ([]column, error) {
	defer rows.Close()
	var cols []column
	for rows.Next() {
		c, err := scan(rows)
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// driverPackage is the import path of a database/sql driver's package,
// by which a handle's driver is recognised without importing it.
func driverPackage(d driver.Driver) string {
	t := reflect.TypeOf(d)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return ""
	}
	return t.PkgPath()
}

// linkPackages name the package that links each database in.
var linkPackages = map[Dialect]string{
	DialectPostgres: "github.com/oauthkit/oauthkit/store/sqlstore/postgres",
	DialectSQLite:   "github.com/oauthkit/oauthkit/store/sqlstore/sqlite",
	DialectMySQL:    "github.com/oauthkit/oauthkit/store/sqlstore/mysql",
}

// errNotLinked: the program does not import the package of d's driver.
func errNotLinked(d Dialect) error {
	return fmt.Errorf("%s is not linked into this program: import _ %q: %w", d, linkPackages[d], store.ErrInvalidURL)
}

// openLinked opens database/sql's driver name, saying which package to
// import when the program links none of that name.
func openLinked(d Dialect, name, dsn string) (*sql.DB, error) {
	if !slices.Contains(sql.Drivers(), name) {
		return nil, errNotLinked(d)
	}
	return sql.Open(name, dsn)
}

// errorAs finds in err's chain an error of interface I (a driver error
// with the method I names: SQLState, Code), without importing the driver.
func errorAs[I error](err error) (I, bool) {
	var x I
	ok := errors.As(err, &x)
	return x, ok
}

// serverFact is a fact about the server, read once per store: only an
// answer is kept, so a first read that failed (a cancelled context, a
// dropped connection) is tried again by the next caller instead of
// failing every later batch of a long-lived store.
type serverFact[T any] struct {
	mu    sync.Mutex
	known bool
	v     T
}

func (f *serverFact[T]) get(read func() (T, error)) (T, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.known {
		return f.v, nil
	}
	v, err := read()
	if err != nil {
		var zero T
		return zero, err
	}
	f.known, f.v = true, v
	return v, nil
}
