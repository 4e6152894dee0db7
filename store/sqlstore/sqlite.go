package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/store"
)

// sqliteDialect is SQLite through modernc.org/sqlite (pure Go).
type sqliteDialect struct {
	locks *fileLocks // per store: see sqlite_lock.go
}

func (sqliteDialect) fresh(config) dialect { return sqliteDialect{locks: &fileLocks{}} }

// close releases what the store's locks hold, once its connections are closed.
func (d sqliteDialect) close() { d.locks.close() }

func (sqliteDialect) name() Dialect      { return DialectSQLite }
func (sqliteDialect) schemes() []string  { return []string{"sqlite", "sqlite3"} }
func (sqliteDialect) urlForms() []string { return []string{"sqlite:PATH"} }
func (sqliteDialect) driverName() string { return "sqlite" }

func (sqliteDialect) recognizes(d driver.Driver) bool {
	return driverPackage(d) == "modernc.org/sqlite"
}

// parseURL takes sqlite:PATH, and the forms dj-database-url and SQLAlchemy
// users already have: sqlite:///RELATIVE/PATH (three slashes) and
// sqlite:////ABSOLUTE/PATH (four).
func (sqliteDialect) parseURL(raw, scheme string, u *url.URL) (DataSource, error) {
	rest := strings.TrimPrefix(raw, scheme+":")
	path := rest
	if strings.HasPrefix(rest, "//") {
		after := strings.TrimPrefix(rest, "//")
		if !strings.HasPrefix(after, "/") {
			// Not echoed: what stands for the host may hold user info.
			return DataSource{}, fmt.Errorf("the sqlite URL names a host; want sqlite:PATH, sqlite:///RELATIVE/PATH or sqlite:////ABSOLUTE/PATH: %w", store.ErrInvalidURL)
		}
		path = after[1:] // the slash ending the empty host

	}
	if path == "" {
		return DataSource{}, fmt.Errorf("database URL %q names no file: %w", truncate(raw, 80), store.ErrInvalidURL)
	}
	if strings.ContainsRune(path, 0) {
		return DataSource{}, fmt.Errorf("the sqlite URL's file name holds a NUL byte: %w", store.ErrInvalidURL)
	}
	return DataSource{Dialect: DialectSQLite, Path: path, DSN: sqliteDSN(path, false), Display: "sqlite:" + path}, nil
}

func (sqliteDialect) open(ds DataSource, cfg config) (*sqlx.DB, error) {
	if !cfg.allowCreate {
		if _, err := os.Stat(ds.Path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open %s: %w (a database the caller names is not created unless Open is given sqlstore.AllowCreate()): %w", ds.Display, ErrNoFile, err)
		} else if err != nil {
			return nil, fmt.Errorf("open %s: %w", ds.Display, err)
		}
	}
	db, err := openLinked(DialectSQLite, "sqlite", sqliteDSN(ds.Path, cfg.allowCreate))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ds.Display, err)
	}
	// One writer at a time is all SQLite allows; one connection also
	// keeps per-connection pragmas uniform.
	db.SetMaxOpenConns(1)
	return sqlx.NewDb(db, "sqlite"), nil
}

// sqliteDSN builds modernc.org/sqlite's URI for a file. mode=rw keeps
// SQLite from creating a file the user merely named; foreign keys are on
// (as Django turns them on) so deferred constraints are checked at commit;
// _txlock=immediate takes the write lock at BEGIN, so a batch never fails
// half-way on a lock upgrade.
func sqliteDSN(path string, create bool) string {
	mode := "rw"
	if create {
		mode = "rwc"
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?mode=" + mode +
		"&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_txlock=immediate"
}

func (sqliteDialect) quote(name string) string { return quoteWith(name, `"`) }

// timeArg: Django stores SQLite timestamps as UTC text in Python's
// str(datetime) form and compares them as text, so a cutoff must be
// written the same way or the comparison is wrong.
func (sqliteDialect) timeArg(t time.Time) any { return DjangoSQLiteTime(t) }

// readOnly: SQLite has no standbys; a file it cannot write shows at the
// first write, with SQLite's own "readonly database".
func (sqliteDialect) readOnly(context.Context, *sqlx.DB) (string, error) { return "", nil }

// replicas: SQLite has none.
func (sqliteDialect) replicas(context.Context, *sqlx.DB) ([]store.Replica, error) { return nil, nil }

func (d sqliteDialect) tableExists(ctx context.Context, db *sqlx.DB, name string) (bool, error) {
	schema, table := splitQualified(name)
	master := "sqlite_master"
	if schema != "" {
		master = d.quote(schema) + ".sqlite_master"
	}
	var n int
	err := db.GetContext(ctx, &n, `SELECT count(*) FROM `+master+` WHERE type = 'table' AND name = ?`, table)
	return n > 0, err
}

var varcharLen = regexp.MustCompile(`(?i)^\s*(?:var)?char(?:acter)?(?:\s+varying)?\s*\((\d+)\)`)

func (d sqliteDialect) readColumns(ctx context.Context, db *sqlx.DB, table string) ([]column, error) {
	schema, bare := splitQualified(table)
	prefix := ""
	if schema != "" {
		prefix = d.quote(schema) + "."
	}
	rows, err := db.QueryContext(ctx, `PRAGMA `+prefix+`table_info(`+d.quote(bare)+`)`)
	if err != nil {
		return nil, err
	}
	return rowsToColumns(rows, func(r *sql.Rows) (column, error) {
		var cid, notnull, pk int
		var name, typ string
		var dflt sql.NullString
		if err := r.Scan(&cid, &name, &typ, &notnull, &dflt, &pk); err != nil {
			return column{}, err
		}
		c := column{Name: name, NotNull: notnull == 1}
		if m := varcharLen.FindStringSubmatch(typ); m != nil {
			c.MaxLen, _ = strconv.Atoi(m[1])
		}
		return c, nil
	})
}

func (sqliteDialect) insertReturningID(ctx context.Context, db *sqlx.DB, query string, args []any) (int64, error) {
	return insertReturning(ctx, db, query, args)
}

// sqliteCode is the extended result code of a SQLite error, read
// through the method modernc.org/sqlite's *sqlite.Error has.
func sqliteCode(err error) (code int, e error, ok bool) {
	c, ok := errorAs[interface {
		error
		Code() int
	}](err)
	if !ok {
		return 0, nil, false
	}
	return c.Code(), c, true
}

func (sqliteDialect) isTransient(err error) bool {
	code, _, ok := sqliteCode(err)
	return ok && (code&0xff == 5 || code&0xff == 6) // SQLITE_BUSY, SQLITE_LOCKED
}

// isConnectionLost: a SQLite connection is a file this process opened.
func (sqliteDialect) isConnectionLost(error) bool { return false }

func (sqliteDialect) isMissingTable(err error) bool {
	code, e, ok := sqliteCode(err)
	return ok && code&0xff == 1 && strings.Contains(e.Error(), "no such table")
}

func (sqliteDialect) isUniqueViolation(err error) bool {
	// SQLITE_CONSTRAINT_UNIQUE (2067) and SQLITE_CONSTRAINT_PRIMARYKEY (1555).
	code, _, ok := sqliteCode(err)
	return ok && (code == 2067 || code == 1555)
}

// safeMessage: SQLite's messages name no values.
func (sqliteDialect) safeMessage(err error) (string, bool) {
	if _, e, ok := sqliteCode(err); ok {
		return e.Error(), true
	}
	return "", false
}

// deleteBatch walks the table in rowid (id) order, each batch one
// transaction that takes the write lock at BEGIN (_txlock=immediate), so
// nothing changes under it. A batch is a keyset: one DELETE takes the next
// Max rows after the cursor that match the condition (or fewer, when
// scanWindow batch sizes of ids hold fewer) and returns their ids; the
// references to them are then nulled (the foreign keys are deferred to
// COMMIT). So a batch holds close to Max rows however sparse the matches
// are: where they are few, a batch of consecutive ids would commit a
// nearly empty transaction that still rewrote a page of every index for
// each row it took. Each row is read once; the walk never looks back.
func (sqliteDialect) deleteBatch(ctx context.Context, s *Store, r boundRule, p store.DeleteBatchParams, f fence) (store.DeleteBatchResult, error) {
	after, err := parseIDCursor(p.After)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	until, err := idUntil(p.Until)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	lo, hi, ok, err := nextIDWindow(ctx, tx, r.table, after, until, windowWidth(p.Max))
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	if !ok {
		return store.DeleteBatchResult{Next: p.After, Done: true}, commitFenced(ctx, tx, f)
	}
	// The subquery reads the table the DELETE changes, so SQLite collects
	// the ids first and then deletes them by rowid, in the one statement.
	rows, err := tx.QueryContext(ctx, `DELETE FROM `+r.table+` WHERE id IN (SELECT t.id FROM `+r.table+` AS t WHERE t.id > ? AND t.id <= ? AND `+r.cond+` ORDER BY t.id LIMIT ?) RETURNING id`,
		append(append([]any{lo, hi}, r.args...), p.Max)...)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return store.DeleteBatchResult{}, err
		}
		ids = append(ids, id)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return store.DeleteBatchResult{}, err
	}
	slices.Sort(ids) // RETURNING's order is unspecified
	if r.nullTable != "" && len(ids) > 0 {
		d := sqliteDialect{}
		if _, err := tx.ExecContext(ctx, d.nullRefs(r.nullTable, r.nullColumn, d.idSet()), idsJSON(ids)); err != nil {
			return store.DeleteBatchResult{}, err
		}
	}
	total, err := idWalkTotal(ctx, tx, r.table, until)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	if err := commitFenced(ctx, tx, f); err != nil {
		return store.DeleteBatchResult{}, err
	}
	next := keysetNext(ids, p.Max, hi)
	return store.DeleteBatchResult{Deleted: int64(len(ids)), Next: idCursor(next), Walked: min(next, total), Total: total}, nil
}

func (sqliteDialect) idSet() string { return `(SELECT value FROM json_each(?))` }

func (sqliteDialect) nullRefs(table, col, ids string) string {
	return `UPDATE ` + table + ` SET ` + col + ` = NULL WHERE ` + col + ` IN ` + ids
}
func (sqliteDialect) deleteWhere(table, cond string) string {
	return `DELETE FROM ` + table + ` WHERE ` + cond
}

// lockRows: BEGIN IMMEDIATE (the DSN's _txlock) already keeps every other
// writer out for the whole transaction.
func (sqliteDialect) lockRows() string { return "" }

// partition: SQLite takes one writer at a time, so the walk is one range.
func (sqliteDialect) partition(context.Context, *Store, boundRule, int) ([]store.Range, error) {
	return []store.Range{{}}, nil
}

// lockScope: a SQLite file holds one table set per name.
func (sqliteDialect) lockScope(context.Context, *sqlx.DB) (string, error) { return "", nil }
