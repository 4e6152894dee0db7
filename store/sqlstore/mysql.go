package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore/internal/drivers"
)

// mysqlDialect is MySQL/MariaDB. What sets it apart from the others:
// foreign keys are real InnoDB constraints checked at once (there is no
// DEFERRABLE), so a reference is nulled before the row it names is
// deleted, in the same transaction; Django stores UTC datetimes without a
// zone and sets no session time zone, so times are bound as UTC text; and
// MariaDB refuses IN (SELECT … LIMIT n), so a batch reads its ids first,
// unless one DELETE … RETURNING can say them (MariaDB's own form). The
// SQL keeps to what MySQL 8.0 accepts as well where MySQL runs it.
type mysqlDialect struct {
	galera  *galeraState // per store: see mysql_lease.go
	mariadb *serverFact[bool]
}

func (mysqlDialect) fresh(cfg config) dialect {
	return mysqlDialect{galera: &galeraState{lease: cfg.lease, force: cfg.forceLease}, mariadb: &serverFact[bool]{}}
}

// isMariaDB reads VERSION(): MariaDB's says so ("10.11.6-MariaDB…"),
// MySQL's does not.
func (d mysqlDialect) isMariaDB(ctx context.Context, s *Store) (bool, error) {
	return d.mariadb.get(func() (bool, error) {
		var v string
		if err := s.db.GetContext(ctx, &v, `SELECT VERSION()`); err != nil {
			return false, err
		}
		return strings.Contains(strings.ToLower(v), "mariadb"), nil
	})
}

func (mysqlDialect) name() Dialect      { return DialectMySQL }
func (mysqlDialect) schemes() []string  { return []string{"mysql", "mariadb"} }
func (mysqlDialect) urlForms() []string { return []string{"mysql://…", "mariadb://…"} }
func (mysqlDialect) driverName() string { return "mysql" }

func (mysqlDialect) recognizes(d driver.Driver) bool {
	return driverPackage(d) == "github.com/go-sql-driver/mysql"
}

// parseURL reads mysql://USER:PASSWORD@HOST:PORT/DB?OPTIONS as
// dj-database-url writes it (mariadb:// too). The query's options pass
// through to the driver, but for the few oauthkit needs: parseTime, and
// UTC as the zone a DATETIME is read in.
func (mysqlDialect) parseURL(raw, scheme string, u *url.URL) (DataSource, error) {
	if u == nil {
		return DataSource{}, fmt.Errorf("the %s URL wants the form mysql://[user[:password]@]host[:port]/dbname: %w", scheme, store.ErrInvalidURL)
	}
	display, secrets := redactedDisplay(u)
	if u.Host == "" {
		return DataSource{}, fmt.Errorf("database URL %q names no host: %w", display, store.ErrInvalidURL)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return DataSource{}, fmt.Errorf("database URL %q names no database (want %s://host/dbname): %w", display, scheme, store.ErrInvalidURL)
	}
	hooks := drivers.LoadMySQL()
	if hooks == nil {
		return DataSource{}, errNotLinked(DialectMySQL)
	}
	cfg := drivers.MySQLConfig{User: u.User.Username(), Net: "tcp", DBName: db, Params: map[string]string{}}
	cfg.Passwd, _ = u.User.Password()
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	cfg.Addr = net.JoinHostPort(u.Hostname(), port)
	for k, vs := range u.Query() {
		if err := checkMySQLParam(k, vs[len(vs)-1]); err != nil {
			return DataSource{}, fmt.Errorf("database URL %q: %w: %w", display, err, store.ErrInvalidURL)
		}
		switch k {
		case "parseTime", "loc", "multiStatements", "interpolateParams":
			continue // oauthkit's own, below
		case "unix_socket": // dj-database-url's name
			if sock := vs[len(vs)-1]; sock != "" {
				cfg.Net, cfg.Addr = "unix", sock
			}
			continue
		}
		cfg.Params[k] = vs[len(vs)-1]
	}
	cfg.Params["parseTime"], cfg.Params["loc"] = "true", "UTC"
	dsn, err := hooks.DSN(cfg)
	if err != nil {
		return DataSource{}, fmt.Errorf("database URL %q: %s: %w", display, parseProblem(err), store.ErrInvalidURL)
	}
	return DataSource{Dialect: DialectMySQL, DSN: dsn, Display: display, secrets: secrets}, nil
}

func (mysqlDialect) open(ds DataSource, _ config) (*sqlx.DB, error) {
	db, err := openLinked(DialectMySQL, "mysql", ds.DSN)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ds.Display, scrubSecrets(err, ds.secrets))
	}
	return sqlx.NewDb(db, "mysql"), nil
}

func (mysqlDialect) quote(name string) string { return quoteWith(name, "`") }

// timeArg: UTC text with microseconds, as Django stores DATETIME(6),
// whatever zone the session or the DSN says.
func (mysqlDialect) timeArg(t time.Time) any {
	return t.UTC().Truncate(time.Microsecond).Format("2006-01-02 15:04:05.000000")
}

func (mysqlDialect) readOnly(ctx context.Context, db *sqlx.DB) (string, error) {
	var ro, innodbRO int
	if err := db.QueryRowxContext(ctx, `SELECT @@global.read_only, @@global.innodb_read_only`).Scan(&ro, &innodbRO); err != nil {
		return "", err
	}
	if ro != 0 || innodbRO != 0 {
		return "is read-only (read_only): run this against the primary", nil
	}
	return "", nil
}

// schemaAndTable splits a validated name into database and table; an
// unqualified name is in the connection's database.
func schemaAndTable(name string) (schema, table any) {
	s, t := splitQualified(name)
	if s == "" {
		return nil, t
	}
	return s, t
}

func (mysqlDialect) tableExists(ctx context.Context, db *sqlx.DB, name string) (bool, error) {
	schema, table := schemaAndTable(name)
	var n int
	err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ?`, schema, table)
	return n > 0, err
}

func (mysqlDialect) readColumns(ctx context.Context, db *sqlx.DB, table string) ([]column, error) {
	schema, name := schemaAndTable(table)
	rows, err := db.QueryContext(ctx, `
SELECT column_name, is_nullable = 'NO', CASE WHEN data_type IN ('varchar','char') THEN character_maximum_length ELSE 0 END
FROM information_schema.columns WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? ORDER BY ordinal_position`, schema, name)
	if err != nil {
		return nil, err
	}
	return rowsToColumns(rows, func(r *sql.Rows) (column, error) {
		var c column
		return c, r.Scan(&c.Name, &c.NotNull, &c.MaxLen)
	})
}

func (mysqlDialect) insertReturningID(ctx context.Context, db *sqlx.DB, query string, args []any) (int64, error) {
	res, err := db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// MySQL and MariaDB error numbers oauthkit tells apart.
const (
	myLockWaitTimeout   = 1205
	myDeadlock          = 1213 // also a Galera certification failure
	myRowIsReferenced   = 1451 // a row linked meanwhile: the statement was rolled back
	myNoReferencedRow   = 1452
	myTooManyConns      = 1040
	myServerShutdown    = 1053
	myQueryInterrupted  = 1317
	myConnKilled        = 1927
	myMaxExecutionTime  = 3024 // MySQL's max_execution_time
	myStatementTimeout  = 1969 // MariaDB's max_statement_time
	myIdleTimeout       = 4031
	myNoSuchTable       = 1146
	myDuplicateKey      = 1062
	myLockDeadlockWsrep = 1180 // commit failed (Galera)
)

// mysqlError reads a server error through the driver package's hook.
func mysqlError(err error) (number uint16, sqlState, message string, ok bool) {
	if h := drivers.LoadMySQL(); h != nil {
		return h.Error(err)
	}
	return 0, "", "", false
}

// mysqlErrorIs reports a server error of that number.
func mysqlErrorIs(err error, number uint16) bool {
	n, _, _, ok := mysqlError(err)
	return ok && n == number
}

func (mysqlDialect) isTransient(err error) bool {
	if h := drivers.LoadMySQL(); h != nil && h.ConnLost(err) {
		return true
	}
	number, _, _, ok := mysqlError(err)
	if !ok {
		return false
	}
	switch number {
	case myLockWaitTimeout, myDeadlock, myRowIsReferenced, myNoReferencedRow, myTooManyConns, myServerShutdown,
		myQueryInterrupted, myConnKilled, myMaxExecutionTime, myStatementTimeout, myIdleTimeout, myLockDeadlockWsrep:
		return true
	}
	return false
}

func (mysqlDialect) isConnectionLost(err error) bool {
	if h := drivers.LoadMySQL(); h != nil && h.ConnLost(err) {
		return true
	}
	return mysqlErrorIs(err, myConnKilled) || mysqlErrorIs(err, myServerShutdown)
}

func (mysqlDialect) isMissingTable(err error) bool { return mysqlErrorIs(err, myNoSuchTable) }

func (mysqlDialect) isUniqueViolation(err error) bool { return mysqlErrorIs(err, myDuplicateKey) }

// quotedValue finds what a MySQL message quotes: "Duplicate entry 'x'",
// "Incorrect value 'x'" may hold a value of the row.
var quotedValue = regexp.MustCompile(`'[^']*'`)

func (mysqlDialect) safeMessage(err error) (string, bool) {
	if number, state, msg, ok := mysqlError(err); ok {
		return fmt.Sprintf("mysql: Error %d (%s): %s", number, state, quotedValue.ReplaceAllString(msg, "'…'")), true
	}
	return "", false
}

func (mysqlDialect) idSet() string {
	return "(SELECT j.id FROM JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$')) AS j)"
}
func (mysqlDialect) lockRows() string { return " FOR UPDATE" }

// nullRefs and deleteWhere use the multi-table forms: for a single-table
// UPDATE or DELETE, MariaDB runs an IN subquery once per row of the table
// (a full scan per batch); joined, it looks the ids up by index.
func (mysqlDialect) nullRefs(table, col, ids string) string {
	return `UPDATE ` + table + ` AS x JOIN ` + ids + ` AS s ON x.` + col + ` = s.id SET x.` + col + ` = NULL`
}
func (mysqlDialect) deleteWhere(table, cond string) string {
	return `DELETE x FROM ` + table + ` AS x WHERE ` + cond
}

// replicas: a MySQL or MariaDB primary does not know its replicas' lag
// (each replica knows its own), so there are none to throttle on here.
func (mysqlDialect) replicas(context.Context, *sqlx.DB) ([]store.Replica, error) { return nil, nil }

// deleteBatch walks by primary key, each batch one transaction at READ
// COMMITTED (no gap locks that would hold back inserts at the end of the
// table), and a keyset: the ids of the next Max matching rows after the
// cursor are read and locked (FOR UPDATE; at READ COMMITTED InnoDB keeps
// the locks of matching rows only), looking through scanWindow batch sizes
// of ids at most; for a refresh-token rule the references to them are
// nulled (InnoDB checks foreign keys at once); and they are deleted by id
// (keysetBatch says what is checked again). So a batch holds close to Max
// rows however sparse the matches are, and the walk never looks back.
//
// A row locked FOR UPDATE cannot change under the batch, and a server
// that links a row to one (a refresh token to an access token, an access
// token to a refresh token it was rotated from) waits for the lock in its
// foreign key check, then fails once the row is gone. If the delete still
// finds fewer rows than were locked, the references nulled may belong to
// rows that stay: the batch is rolled back and tried again.
func (d mysqlDialect) deleteBatch(ctx context.Context, s *Store, r boundRule, p store.DeleteBatchParams, f fence) (store.DeleteBatchResult, error) {
	after, err := parseIDCursor(p.After)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	returning := false
	if r.nullTable == "" {
		// With nothing to null first, MariaDB deletes the batch in the
		// statement that finds it and says which ids it took. Asked before
		// the transaction takes a connection: a pool of one would wait.
		if returning, err = d.isMariaDB(ctx, s); err != nil {
			return store.DeleteBatchResult{}, err
		}
	}
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	until, err := idUntil(p.Until)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	res, err := d.keysetBatch(ctx, tx, r, after, until, p.Max, returning)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	if res.Total, err = idWalkTotal(ctx, tx, r.table, until); err != nil {
		return store.DeleteBatchResult{}, err
	}
	if res.Walked, err = parseIDCursor(res.Next); err != nil {
		return store.DeleteBatchResult{}, err
	}
	res.Walked = min(res.Walked, res.Total)
	return res, commitFenced(ctx, tx, f)
}

// keysetBatch deletes the next max matching rows in (after, until), in
// the window nextIDWindow gives. With returning (MariaDB, a rule with no
// reference to null first) it is one DELETE … ORDER BY id LIMIT max
// RETURNING id; else the ids are locked by a SELECT … FOR UPDATE, the
// references to them nulled, and the rows deleted by primary key.
func (d mysqlDialect) keysetBatch(ctx context.Context, tx *sqlx.Tx, r boundRule, after, until int64, max int, returning bool) (store.DeleteBatchResult, error) {
	lo, hi, ok, err := nextIDWindow(ctx, tx, r.table, after, until, windowWidth(max))
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	if !ok {
		return store.DeleteBatchResult{Next: idCursor(after), Done: true}, nil
	}
	if returning {
		return d.returningBatch(ctx, tx, r, lo, hi, max)
	}
	var ids []int64
	q := `SELECT t.id FROM ` + r.table + ` AS t WHERE t.id > ? AND t.id <= ? AND ` + r.cond + ` ORDER BY t.id LIMIT ? FOR UPDATE`
	if err := tx.SelectContext(ctx, &ids, q, append(append([]any{lo, hi}, r.args...), max)...); err != nil {
		return store.DeleteBatchResult{}, err
	}
	next := idCursor(keysetNext(ids, max, hi))
	if len(ids) == 0 {
		return store.DeleteBatchResult{Next: next}, nil
	}
	set := idsJSON(ids)
	if r.nullTable != "" {
		if _, err := tx.ExecContext(ctx, d.nullRefs(r.nullTable, r.nullColumn, d.idSet()), set); err != nil {
			return store.DeleteBatchResult{}, err
		}
	}
	// The rows are locked, so their own columns cannot have changed; a row
	// linked to one meanwhile (its foreign key check waits for our lock,
	// or committed after this statement's snapshot) makes the DELETE fail
	// its own foreign key check (1451: transient, the batch is rolled
	// back and retried, and the retry's fresh read sees the link). So the
	// condition is checked again only where it reads another table's row,
	// which the lock on the rule's own rows does not cover (an access
	// token's expiry, for the refresh-token rules that follow it: a server
	// may extend it meanwhile). Locking those access tokens with the ids
	// instead, or deleting in one statement whose condition reads them,
	// made a server rotating a refresh token deadlock against the batch
	// (TestLiveTraffic). The ids drive the join, each found by its
	// primary key.
	del, args := `DELETE t FROM `+d.idSet()+` AS s JOIN `+r.table+` AS t ON t.id = s.id`, []any{set}
	if r.readsOtherRows() {
		del += ` WHERE ` + r.cond
		args = append(args, r.args...)
	}
	res, err := tx.ExecContext(ctx, del, args...)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	deleted, err := res.RowsAffected()
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	if deleted != int64(len(ids)) {
		return store.DeleteBatchResult{}, transientError{fmt.Errorf("%d of %d locked rows no longer matched; the batch was rolled back", int64(len(ids))-deleted, len(ids))}
	}
	return store.DeleteBatchResult{Deleted: deleted, Next: next}, nil
}

// returningBatch is a keyset batch in one statement: the DELETE reads the
// window in primary-key order, locks and deletes each row that matches
// (READ COMMITTED: it evaluates the condition on the row's latest
// version) until it has max, and returns their ids. A reference made to
// a row meanwhile fails the DELETE's own foreign key check (1451:
// transient, retried). Compared with locking the ids first and deleting
// them by a join, each row is found once instead of twice, and the
// ids travel once, to the client only.
func (mysqlDialect) returningBatch(ctx context.Context, tx *sqlx.Tx, r boundRule, lo, hi int64, max int) (store.DeleteBatchResult, error) {
	id := r.table + `.id`
	q := `DELETE FROM ` + r.table + ` WHERE ` + id + ` > ? AND ` + id + ` <= ? AND ` + r.selfCond + ` ORDER BY ` + id + ` LIMIT ? RETURNING id`
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, q, append(append([]any{lo, hi}, r.selfArgs...), max)...); err != nil {
		return store.DeleteBatchResult{}, err
	}
	slices.Sort(ids) // RETURNING's order is not promised
	return store.DeleteBatchResult{Deleted: int64(len(ids)), Next: idCursor(keysetNext(ids, max, hi))}, nil
}

// partition cuts the ids into ranges of equal width.
func (mysqlDialect) partition(ctx context.Context, s *Store, r boundRule, parts int) ([]store.Range, error) {
	var lo, hi sql.NullInt64
	if err := s.db.QueryRowxContext(ctx, `SELECT MIN(id), MAX(id) FROM `+r.table).Scan(&lo, &hi); err != nil {
		return nil, err
	}
	return idRanges(lo.Int64, hi.Int64, parts), nil
}

// lockScope: the same table names in two databases are two table sets.
func (mysqlDialect) lockScope(ctx context.Context, db *sqlx.DB) (string, error) {
	var name sql.NullString
	err := db.GetContext(ctx, &name, `SELECT DATABASE()`)
	return name.String, err
}

// lock takes GET_LOCK on a connection of its own, held for the run: the
// server releases it when the session ends, so a killed run never leaves
// it behind. Lock names are at most 64 characters: the key is hashed.
// Waiting polls, so that cancellation ends it.
//
// The same session also takes a lock of a random name that no other run
// knows: the batches' fence checks that one session holds both, which no
// other holder of the lock can match, not even after a server restart
// that reuses connection ids.
func (d mysqlDialect) lock(ctx context.Context, s *Store, key string, p store.LockParams) (store.Unlocker, error) {
	if galera, err := d.isGalera(ctx, s); err != nil {
		return nil, err
	} else if galera {
		return d.leaseLock(ctx, s, key, p)
	}
	name := lockName(key)
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	u, err := pollLock(ctx, p.Wait, 250*time.Millisecond, func() (store.Unlocker, error) {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 0)`, name).Scan(&got); err != nil {
			return nil, err
		}
		if !got.Valid || got.Int64 != 1 {
			return nil, store.ErrLocked
		}
		u := &sessionLock{conn: conn, name: name, runName: runLockName()}
		if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 0)`, u.runName).Scan(&got); err != nil || got.Int64 != 1 {
			conn.ExecContext(ctx, `SELECT RELEASE_ALL_LOCKS()`) //nolint:errcheck // closing the connection releases it too
			if err == nil {
				err = fmt.Errorf("GET_LOCK(%q) gave %v", u.runName, got)
			}
			return nil, fmt.Errorf("take this run's own lock: %w", err)
		}
		u.start(10*time.Second, 30*time.Second, func(ctx context.Context) error {
			if err := conn.PingContext(ctx); err != nil {
				return fmt.Errorf("%w: its connection failed: %w", store.ErrLockLost, err)
			}
			return nil
		})
		return u, nil
	})
	if err != nil {
		conn.Close()
	}
	return u, err
}

// lockName is a lock key in at most 64 characters.
func lockName(key string) string { return fmt.Sprintf("oauthkit:%016x", lockHash(key)) }

// runLockName is a lock name of this run's alone.
func runLockName() string {
	b := make([]byte, 16)
	rand.Read(b) //nolint:errcheck // never fails
	return "oauthkit:run:" + hex.EncodeToString(b)
}

// sessionLock is a lock held by a session: released by a statement, or
// when the connection closes. runName is the session's own lock, which
// tells this holder from any other.
type sessionLock struct {
	heartbeat
	conn          *sql.Conn
	name, runName string
}

// holds checks that one live session holds both the lock and this run's
// own: IS_USED_LOCK gives the holding connection's id (NULL when free).
func (u *sessionLock) holds(ctx context.Context, tx *sqlx.Tx) error {
	var same sql.NullBool
	if err := tx.QueryRowxContext(ctx, `SELECT IS_USED_LOCK(?) = IS_USED_LOCK(?)`, u.name, u.runName).Scan(&same); err != nil {
		return err
	}
	if !same.Valid || !same.Bool {
		return fmt.Errorf("%w: the session that held it is gone (killed, or its connection died); the batch was rolled back", store.ErrLockLost)
	}
	return nil
}

func (u *sessionLock) Unlock() error {
	if !u.end() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := u.conn.ExecContext(ctx, `SELECT RELEASE_ALL_LOCKS()`)
	// Closing the connection ends the session, which releases the lock even
	// if the statement failed.
	if cerr := u.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

// A MySQL URL's query parameter that the driver does not know is sent to
// the server as a session variable, its value spliced into SET name=value
// unquoted: ?password=PASSWORD('x') would change the user's password, and
// any value is an SQL expression. So a value must be a plain word
// (letters, digits and _ . , : / + - *) or one single-quoted string with
// no quote or backslash inside, and no parameter may carry a password
// (the user info holds it: mysql://user:password@host/db).
var (
	plainMySQLValue  = regexp.MustCompile(`^[A-Za-z0-9_.,:/+*-]*$`)
	quotedMySQLValue = regexp.MustCompile(`^'[^'\\]*'$`)
)

func checkMySQLParam(name, value string) error {
	if credentialParams[strings.ToLower(name)] {
		return fmt.Errorf("option %q would be sent to the server as a session variable: give the password in the user info (mysql://user:password@host/db)", name)
	}
	if !plainMySQLValue.MatchString(value) && !quotedMySQLValue.MatchString(value) {
		return fmt.Errorf("option %q: its value would run as SQL on the server (SET %s=…): want a plain word or one single-quoted string", name, name)
	}
	return nil
}
