package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore/internal/drivers"
)

// postgresDialect is PostgreSQL through lib/pq.
type postgresDialect struct {
	// version is server_version_num, read once per store (the Store is
	// shared between goroutines).
	version *serverFact[int]
}

func (postgresDialect) fresh(config) dialect { return postgresDialect{version: &serverFact[int]{}} }

func (postgresDialect) name() Dialect      { return DialectPostgres }
func (postgresDialect) schemes() []string  { return []string{"postgres", "postgresql"} }
func (postgresDialect) urlForms() []string { return []string{"postgres://…", "postgresql://…"} }
func (postgresDialect) driverName() string { return "postgres" }

// recognizes lib/pq's driver and pgx's database/sql driver.
func (postgresDialect) recognizes(d driver.Driver) bool {
	switch driverPackage(d) {
	case "github.com/lib/pq", "github.com/jackc/pgx/v5/stdlib", "github.com/jackc/pgx/v4/stdlib":
		return true
	}
	return false
}

func (postgresDialect) parseURL(raw, scheme string, u *url.URL) (DataSource, error) {
	if u == nil {
		return DataSource{}, fmt.Errorf("the %s URL wants the form postgres://[user[:password]@]host[:port]/dbname: %w", scheme, store.ErrInvalidURL)
	}
	display, secrets := redactedDisplay(u)
	if u.Host == "" && u.Query().Get("host") == "" {
		return DataSource{}, fmt.Errorf("database URL %q names no host: %w", display, store.ErrInvalidURL)
	}
	// Through a transaction pooler, a statement sent in two round trips
	// (Parse, then Bind/Execute) can be crossed with another client's in
	// between, and a prepared statement kept on a server connection meets
	// another client. lib/pq sends one round trip with binary_parameters
	// on, whatever the URL says; pgx does with default_query_exec_mode
	// exec, unless the URL chose a mode.
	driverName := drivers.PostgresDriver()
	if driverName == "" {
		// Neither package of ours, but a program may link a driver itself.
		switch {
		case slices.Contains(sql.Drivers(), "postgres"):
			driverName = "postgres"
		case slices.Contains(sql.Drivers(), "pgx"):
			driverName = "pgx"
		default:
			return DataSource{}, errNotLinked(DialectPostgres)
		}
	}
	dsn := *u
	q := dsn.Query()
	if driverName != "pgx" && q.Has("sslpassword") {
		// lib/pq does not know it: it would reach the server as a setting.
		return DataSource{}, fmt.Errorf("database URL %q: option \"sslpassword\" is not supported by lib/pq (it would be sent to the server as a setting): decrypt the client key, or link pgx (store/sqlstore/pgx): %w", display, store.ErrInvalidURL)
	}
	if driverName == "pgx" {
		if q.Get("default_query_exec_mode") == "" {
			q.Set("default_query_exec_mode", "exec")
		}
	} else {
		q.Set("binary_parameters", "yes")
	}
	dsn.RawQuery = q.Encode()
	return DataSource{Dialect: DialectPostgres, DSN: dsn.String(), Display: display, secrets: secrets, driver: driverName}, nil
}

func (postgresDialect) open(ds DataSource, _ config) (*sqlx.DB, error) {
	db, err := openLinked(DialectPostgres, ds.driver, ds.DSN)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", ds.Display, scrubSecrets(err, ds.secrets))
	}
	return sqlx.NewDb(db, "postgres"), nil
}

func (postgresDialect) quote(name string) string { return quoteWith(name, `"`) }

// quoteWith quotes each part of a validated, possibly schema-qualified name.
func quoteWith(name, q string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = q + strings.ReplaceAll(p, q, q+q) + q
	}
	return strings.Join(parts, ".")
}

func (postgresDialect) timeArg(t time.Time) any { return t.UTC() }

func (postgresDialect) readOnly(ctx context.Context, db *sqlx.DB) (string, error) {
	var recovery bool
	var txReadOnly string
	if err := db.QueryRowxContext(ctx, `SELECT pg_is_in_recovery(), current_setting('transaction_read_only')`).Scan(&recovery, &txReadOnly); err != nil {
		return "", err
	}
	switch {
	case recovery:
		return "is a standby in recovery (read-only): run this against the primary", nil
	case txReadOnly == "on":
		return "gives this session read-only transactions (default_transaction_read_only): run this against a writable primary", nil
	}
	return "", nil
}

// replicas reads pg_stat_replication. Seeing its lag and positions needs
// a superuser or the pg_monitor role; without them the columns are NULL
// and a standby counts as not behind.
func (postgresDialect) replicas(ctx context.Context, db *sqlx.DB) ([]store.Replica, error) {
	rows, err := db.QueryContext(ctx, `
SELECT COALESCE(NULLIF(application_name, ''), client_addr::text, 'standby ' || pid::text),
       EXTRACT(epoch FROM replay_lag)::float8,
       COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint,
       COALESCE(replay_lsn::text, ''), reply_time
FROM pg_stat_replication`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Replica
	for rows.Next() {
		var r store.Replica
		var lag sql.NullFloat64
		var reply sql.NullTime
		if err := rows.Scan(&r.Name, &lag, &r.BytesBehind, &r.ReplayPosition, &reply); err != nil {
			return nil, err
		}
		r.HasReplayLag = lag.Valid
		r.ReplayLag = time.Duration(lag.Float64 * float64(time.Second))
		r.LastReply = reply.Time
		out = append(out, r)
	}
	return out, rows.Err()
}

func (d postgresDialect) tableExists(ctx context.Context, db *sqlx.DB, name string) (bool, error) {
	var ok bool
	err := db.GetContext(ctx, &ok, `SELECT to_regclass($1) IS NOT NULL`, d.quote(name))
	return ok, err
}

func (d postgresDialect) readColumns(ctx context.Context, db *sqlx.DB, table string) ([]column, error) {
	rows, err := db.QueryContext(ctx, `
SELECT a.attname, a.attnotnull, CASE WHEN a.atttypmod > 4 AND t.typname IN ('varchar','bpchar') THEN a.atttypmod - 4 ELSE 0 END
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, d.quote(table))
	if err != nil {
		return nil, err
	}
	return rowsToColumns(rows, func(r *sql.Rows) (column, error) {
		var c column
		return c, r.Scan(&c.Name, &c.NotNull, &c.MaxLen)
	})
}

func (postgresDialect) insertReturningID(ctx context.Context, db *sqlx.DB, query string, args []any) (int64, error) {
	return insertReturning(ctx, db, query, args)
}

// sqlState is the SQLSTATE of a server error, read through the method
// both lib/pq's *pq.Error and pgx's *pgconn.PgError have.
func sqlState(err error) (code string, e error, ok bool) {
	st, ok := errorAs[interface {
		error
		SQLState() string
	}](err)
	if !ok {
		return "", nil, false
	}
	return st.SQLState(), st, true
}

func (postgresDialect) isTransient(err error) bool {
	code, _, ok := sqlState(err)
	if !ok {
		return false
	}
	switch {
	case code == "40001", code == "40P01": // serialization failure, deadlock
		return true
	case code == "55P03", code == "57014": // lock not available, statement timeout / cancelled
		return true
	case strings.HasPrefix(code, "08"): // connection exception
		return true
	case code == "57P01", code == "57P02", code == "57P03": // admin shutdown, crash shutdown, cannot connect now
		return true
	case code == "53300": // too many connections: the server is full for now
		return true
	}
	return false
}

func (postgresDialect) isConnectionLost(err error) bool {
	code, _, ok := sqlState(err)
	return ok && (strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03")
}

func (postgresDialect) isMissingTable(err error) bool {
	code, _, ok := sqlState(err)
	return ok && code == "42P01" // undefined_table
}

func (postgresDialect) isUniqueViolation(err error) bool {
	code, _, ok := sqlState(err)
	return ok && code == "23505"
}

// safeMessage keeps the server's message and code, not its detail, which
// may quote the failing row: the drivers' Error() leaves the detail out
// (lib/pq: "pq: message"; pgx: "SEVERITY: message (SQLSTATE code)").
func (postgresDialect) safeMessage(err error) (string, bool) {
	code, e, ok := sqlState(err)
	if !ok {
		return "", false
	}
	msg := e.Error()
	if !strings.Contains(msg, code) {
		msg += " (" + code + ")"
	}
	return msg, true
}

// serverVersion is server_version_num, read once.
func (d postgresDialect) serverVersion(ctx context.Context, db *sqlx.DB) (int, error) {
	return d.version.get(func() (int, error) {
		var v int
		err := db.GetContext(ctx, &v, `SELECT current_setting('server_version_num')::int`)
		return v, err
	})
}

// deleteBatch: every batch is one statement, so one transaction, and the
// row's own condition is re-checked by the DELETE itself. The statement reports how
// many rows it deleted and where the walk stands, so memory stays flat.
//
// On PostgreSQL 14 and later the walk goes by physical position (ctid)
// through a window of pages: a TID Range Scan reads only the pages of the
// window, in order, so the whole run reads each table about once, like the
// single unbatched DELETE would, with no index on expires or revoked. The
// window adapts to how dense the matches are, so a batch holds close to Max
// rows; ORDER BY ctid keeps the walk exact whatever plan the server picks.
// A row that a live server updates gets a new ctid; the DELETE then no
// longer matches it, so it is left for the next run rather than deleted
// on stale information.
func (d postgresDialect) deleteBatch(ctx context.Context, s *Store, r boundRule, p store.DeleteBatchParams, f fence) (store.DeleteBatchResult, error) {
	v, err := d.serverVersion(ctx, s.db)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	if s.walkByID || v < 140000 {
		return d.idBatch(ctx, s, r, p, f)
	}
	cur, err := parseTIDCursor(p.After)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	until, err := parseTIDCursor(p.Until)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	untilBlock := int64(math.MaxInt64)
	if p.Until != "" {
		untilBlock = until.block
	}
	if r.driveTable != "" && cur.walk == walkUndecided {
		// The first batch of a range: take the partition's choice, or
		// make it. The rest of the range follows it in the cursor.
		cur.walk = until.walk
		if cur.walk == walkUndecided {
			if cur.walk, err = d.chooseWalk(ctx, s, r); err != nil {
				return store.DeleteBatchResult{}, err
			}
		}
	}
	driven := r.driveTable != "" && cur.walk == walkDriven
	walked := r.table
	if driven {
		walked = r.driveTable
	}
	if cur.window == 0 {
		if cur.window, err = firstWindow(ctx, s, walked, p.Max); err != nil {
			return store.DeleteBatchResult{}, err
		}
	}
	hiBlock := min(cur.block+cur.window, untilBlock)
	lo, hi := fmt.Sprintf("(%d,%d)", cur.block, cur.offset), fmt.Sprintf("(%d,0)", hiBlock)
	// The batch: the next rows in the window (k, the row to delete; w, the
	// walked row the cursor moves past), in ctid order.
	batch := `t.ctid AS k, t.ctid AS w FROM ` + r.table + ` AS t WHERE t.ctid > ?::tid AND t.ctid < ?::tid AND ` + r.cond + ` ORDER BY t.ctid LIMIT ?`
	if driven {
		// Driven: the window is over the driving table's pages (the expired
		// access tokens), and the rows to delete are found from them
		// through the unique index on the joining column; the DELETE
		// checks the rule's own condition again.
		batch = `r.ctid AS k, a.ctid AS w FROM ` + r.driveTable + ` AS a JOIN ` + r.table + ` AS r ON r.` + r.driveColumn + ` = a.id
 WHERE a.ctid > ?::tid AND a.ctid < ?::tid AND ` + r.driveWhere() + ` ORDER BY a.ctid LIMIT ?`
	}
	with := pgBatchCTEs(r, batch, `t.ctid = ANY (ARRAY(SELECT k FROM batch))`)
	args := append(append(append([]any{lo, hi}, r.args...), p.Max), r.recheckArgs...)
	q := s.db.Rebind(with + `
SELECT (SELECT count(*) FROM del), (SELECT count(*) FROM batch), COALESCE((SELECT max(w) FROM batch)::text, ''),
       pg_relation_size(?::regclass) / current_setting('block_size')::bigint`)
	args = append(args, walked)

	var deleted, selected, nblocks int64
	var maxKey string
	if err := pgBatch(ctx, s, f, q, args, &deleted, &selected, &maxKey, &nblocks); err != nil {
		return store.DeleteBatchResult{}, err
	}
	next := cur
	switch {
	case selected >= int64(p.Max):
		// The window held more matches than a batch: go on right after the
		// last one taken, and look at fewer pages next time.
		b, o, err := parseTID(maxKey)
		if err != nil {
			return store.DeleteBatchResult{}, err
		}
		next.block, next.offset = b, o
		next.window = max(1, cur.window*3/4)
	default:
		// The whole window was examined: move past it, and widen the next
		// window in proportion to how sparse the matches were.
		next.block, next.offset = hiBlock, 0
		// It aims a little under Max, so that the next window rarely holds
		// more than a batch (whose surplus is examined again next time).
		switch aim := int64(p.Max) * 9 / 10; {
		case selected == 0:
			next.window = cur.window * 4
		case selected < aim:
			next.window = min(cur.window*4, max(cur.window+1, cur.window*aim/selected))
		}
	}
	next.window = min(next.window, maxWindowPages)
	done := selected < int64(p.Max) && (hiBlock >= nblocks || hiBlock >= untilBlock)
	return store.DeleteBatchResult{Deleted: deleted, Next: next.String(), Done: done, Walked: min(next.block, nblocks), Total: min(nblocks, untilBlock)}, nil
}

// pgBatchPlan is what a batch statement is planned with: only nested
// loops over the indexes DOT's foreign keys have, and no JIT. A batch
// touches at most Max rows, so probing the index for each is bounded by
// the batch; but the planner, going by statistics from before the run (a
// step deletes most of a table long before autovacuum analyzes it again),
// may choose to hash or merge the whole other table instead, and that
// cost, paid by every batch, grows with the table: quadratic over a run.
// JIT compilation, chosen from the same estimates, costs tens of
// milliseconds per batch and saves nothing on a bounded one.
const pgBatchPlan = `SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; SET LOCAL jit = off`

// pgBatch runs one batch statement in a transaction of its own, planned
// as pgBatchPlan says, scans its one row into dest, and commits it if the
// fence f holds.
func pgBatch(ctx context.Context, s *Store, f fence, q string, args []any, dest ...any) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it does nothing
	if _, err := tx.ExecContext(ctx, pgBatchPlan); err != nil {
		return err
	}
	if err := tx.QueryRowxContext(ctx, q, args...).Scan(dest...); err != nil {
		return err
	}
	return commitFenced(ctx, tx, f)
}

// firstWindow is the first batch's window: the pages that hold Max rows
// by the table's statistics, as if every row matched, so the first batch
// is never larger than later ones and reaches a full batch at once where
// the matches are dense (the window then widens by how sparse they were).
// Without statistics it is initialWindowPages.
func firstWindow(ctx context.Context, s *Store, table string, limit int) (int64, error) {
	var tuples float64
	var pages int64
	if err := s.db.QueryRowxContext(ctx, `SELECT reltuples, relpages FROM pg_class WHERE oid = $1::regclass`, table).Scan(&tuples, &pages); err != nil {
		return 0, err
	}
	if tuples <= 0 || pages <= 0 {
		return initialWindowPages, nil
	}
	return min(maxWindowPages, max(1, int64(math.Ceil(float64(limit)*float64(pages)/tuples)))), nil
}

// maxWindowPages bounds the pages one batch scans (1 GiB of 8 KiB pages).
const maxWindowPages = 1 << 17

// pgBatchCTEs builds "WITH batch AS (...), del AS (...)[, nulled AS (...)]".
// The batch is materialized once; the DELETE re-checks the row's own
// condition (r.recheck: one statement, one snapshot, so what another
// table says about the row was settled by the batch's selection).
func pgBatchCTEs(r boundRule, batchSelect, delMatch string) string {
	var b strings.Builder
	b.WriteString("WITH batch AS MATERIALIZED (SELECT " + batchSelect + "),\n")
	b.WriteString("del AS (DELETE FROM " + r.table + " AS t WHERE " + delMatch + " AND " + r.recheck + " RETURNING t.id)")
	if r.nullTable != "" {
		b.WriteString(",\nnulled AS (UPDATE " + r.nullTable + " SET " + r.nullColumn + " = NULL WHERE " + r.nullColumn + " IN (SELECT id FROM del))")
	}
	return b.String()
}

// idBatch walks by primary key: for servers without TID Range Scan.
func (postgresDialect) idBatch(ctx context.Context, s *Store, r boundRule, p store.DeleteBatchParams, f fence) (store.DeleteBatchResult, error) {
	after, err := parseIDCursor(p.After)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	until, err := idUntil(p.Until)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	with := pgBatchCTEs(r, `t.id AS k FROM `+r.table+` AS t WHERE t.id > ? AND t.id < ? AND `+r.cond+` ORDER BY t.id LIMIT ?`,
		`t.id IN (SELECT k FROM batch)`)
	q := s.db.Rebind(with + `
SELECT (SELECT count(*) FROM del), (SELECT count(*) FROM batch), COALESCE((SELECT max(k) FROM batch), ?),
       COALESCE((SELECT max(id) FROM ` + r.table + `), 0)`)
	args := append(append(append(append([]any{after, until}, r.args...), p.Max), r.recheckArgs...), after)
	var deleted, selected, maxKey, maxID int64
	if err := pgBatch(ctx, s, f, q, args, &deleted, &selected, &maxKey, &maxID); err != nil {
		return store.DeleteBatchResult{}, err
	}
	return store.DeleteBatchResult{Deleted: deleted, Next: idCursor(maxKey), Done: selected < int64(p.Max), Walked: maxKey, Total: min(maxID, until)}, nil
}

// tidCursor is the PostgreSQL walk's position: strictly after (block,
// offset), looking at window pages from block on (0: not sized yet, the
// next batch sizes it by firstWindow), in the pages of the table walk
// says (for a rule that can be driven; block and offset are positions
// in that table).
type tidCursor struct {
	block, offset, window int64
	walk                  walkChoice
}

// initialWindowPages is the first window of a table without statistics.
const initialWindowPages = 64

func (c tidCursor) String() store.Cursor {
	return store.Cursor(fmt.Sprintf("tid:%d:%d:%d:%d", c.block, c.offset, c.window, c.walk))
}

func parseTIDCursor(c store.Cursor) (tidCursor, error) {
	if c == "" {
		return tidCursor{}, nil // the first batch sizes the window
	}
	var cur tidCursor
	if _, err := fmt.Sscanf(string(c), "tid:%d:%d:%d:%d", &cur.block, &cur.offset, &cur.window, &cur.walk); err != nil ||
		cur.window < 0 || cur.walk < walkUndecided || cur.walk > walkOwn {
		return tidCursor{}, fmt.Errorf("bad cursor %q for PostgreSQL", c)
	}
	return cur, nil
}

// parseTID reads PostgreSQL's text form of a tid, "(block,offset)".
func parseTID(s string) (int64, int64, error) {
	var b, o int64
	if _, err := fmt.Sscanf(s, "(%d,%d)", &b, &o); err != nil {
		return 0, 0, fmt.Errorf("unexpected tid %q from the server", s)
	}
	return b, o, nil
}

func (postgresDialect) idSet() string {
	return `(SELECT jsonb_array_elements_text(?::jsonb)::bigint)`
}
func (postgresDialect) nullRefs(table, col, ids string) string {
	return `UPDATE ` + table + ` SET ` + col + ` = NULL WHERE ` + col + ` IN ` + ids
}
func (postgresDialect) deleteWhere(table, cond string) string {
	return `DELETE FROM ` + table + ` WHERE ` + cond
}
func (postgresDialect) lockRows() string { return " FOR UPDATE" }

// partition cuts the table's pages (or, walking by id, its ids) into
// ranges of equal size; the last is open, for rows added meanwhile.
func (d postgresDialect) partition(ctx context.Context, s *Store, r boundRule, parts int) ([]store.Range, error) {
	v, err := d.serverVersion(ctx, s.db)
	if err != nil {
		return nil, err
	}
	if s.walkByID || v < 140000 {
		var lo, hi sql.NullInt64
		if err := s.db.QueryRowxContext(ctx, `SELECT min(id), max(id) FROM `+r.table).Scan(&lo, &hi); err != nil {
			return nil, err
		}
		return idRanges(lo.Int64, hi.Int64, parts), nil
	}
	table, walk := r.table, walkUndecided
	if r.driveTable != "" {
		if walk, err = d.chooseWalk(ctx, s, r); err != nil {
			return nil, err
		}
		if walk == walkDriven {
			table = r.driveTable // the walk goes over the driving table's pages
		}
	}
	var blocks int64
	if err := s.db.GetContext(ctx, &blocks, `SELECT pg_relation_size($1::regclass) / current_setting('block_size')::bigint`, table); err != nil {
		return nil, err
	}
	if blocks < int64(parts) {
		return []store.Range{{}}, nil
	}
	var out []store.Range
	from := store.Cursor("")
	for i := 1; i < parts; i++ {
		edge := blocks * int64(i) / int64(parts)
		out = append(out, store.Range{From: from, Until: tidCursor{block: edge, window: 1, walk: walk}.String()})
		from = tidCursor{block: edge, walk: walk}.String()
	}
	return append(out, store.Range{From: from}), nil
}

// lockScope: the same table names in two databases or schemas are two
// table sets.
func (postgresDialect) lockScope(ctx context.Context, db *sqlx.DB) (string, error) {
	var scope sql.NullString
	err := db.GetContext(ctx, &scope, `SELECT current_database() || '.' || current_schema()`)
	return scope.String, err
}

// lock holds a transaction-level advisory lock in a transaction left open
// on a connection of its own for the whole run. It needs no session state
// between transactions, so it is correct through a transaction pooler
// (PgBouncer's pool_mode=transaction pins the server connection to the
// open transaction), and it goes away with the transaction: on Unlock, or
// when the client dies and the server (or the pooler) ends its connection.
// A session-level lock, by contrast, would stay on a pooled server
// connection after the client left.
//
// Waiting polls in short transactions rather than blocking in one: a
// blocked waiter would hold a pooled server connection that the holder may
// need to finish. While held, a heartbeat keeps the transaction from
// idle_in_transaction_session_timeout and notices when its connection dies
// (Err then says so).
func (postgresDialect) lock(ctx context.Context, s *Store, key string, p store.LockParams) (store.Unlocker, error) {
	id := int64(lockHash(key))
	return pollLock(ctx, p.Wait, 250*time.Millisecond, func() (store.Unlocker, error) { return tryXactLock(ctx, s.db, id) })
}

func tryXactLock(ctx context.Context, db *sqlx.DB, id int64) (*pgUnlocker, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	var got bool
	var idleTimeout string
	err = tx.QueryRowContext(ctx, `SELECT pg_try_advisory_xact_lock($1), current_setting('idle_in_transaction_session_timeout')`, id).Scan(&got, &idleTimeout)
	if err != nil || !got {
		tx.Rollback() //nolint:errcheck
		conn.Close()
		if err == nil {
			err = store.ErrLocked
		}
		return nil, err
	}
	// Where the lock is, for the batches' fence: the backend that holds it
	// and its transaction's virtual id, which no later transaction of the
	// server takes (a new holder after this one died has another).
	classID, objID := int64(uint64(id)>>32), int64(uint64(id)&0xffffffff)
	u := &pgUnlocker{conn: conn, tx: tx, classID: classID, objID: objID}
	err = tx.QueryRowContext(ctx, `SELECT pid, virtualtransaction FROM pg_locks
WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 1`,
		classID, objID).Scan(&u.pid, &u.vxid)
	if err != nil {
		tx.Rollback() //nolint:errcheck
		conn.Close()
		return nil, fmt.Errorf("find the advisory lock just taken in pg_locks: %w", err)
	}
	// The transaction must not hold back the server's xmin horizon for
	// the run: a finished SELECT in an open transaction keeps its portal,
	// and with it its snapshot, until another statement replaces it (in
	// the extended protocol), and vacuum could prune nothing the run
	// deletes until the run ended. SHOW takes no snapshot, in either
	// protocol, and replaces that portal; the heartbeat is one too.
	if _, err := tx.ExecContext(ctx, pgNoSnapshot); err != nil {
		tx.Rollback() //nolint:errcheck
		conn.Close()
		return nil, fmt.Errorf("release the lock transaction's snapshot: %w", err)
	}
	u.start(heartbeatEvery(idleTimeout), 30*time.Second, func(ctx context.Context) error {
		if _, err := tx.ExecContext(ctx, pgNoSnapshot); err != nil {
			return fmt.Errorf("%w: its connection failed: %w", store.ErrLockLost, err)
		}
		return nil
	})
	return u, nil
}

// pgNoSnapshot is a statement that takes no snapshot.
const pgNoSnapshot = `SHOW server_version_num`

// heartbeatEvery is a third of the server's idle-in-transaction timeout
// (PostgreSQL shows it in milliseconds or with a unit), and at most 10 s.
func heartbeatEvery(setting string) time.Duration {
	every := 10 * time.Second
	setting = strings.Replace(setting, "min", "m", 1)
	if d, err := time.ParseDuration(setting); err == nil && d > 0 {
		every = min(every, d/3)
	} else if ms, err := strconv.Atoi(setting); err == nil && ms > 0 {
		every = min(every, time.Duration(ms)*time.Millisecond/3)
	}
	return max(every, 100*time.Millisecond)
}

type pgUnlocker struct {
	heartbeat
	conn *sql.Conn
	tx   *sql.Tx
	// The lock as pg_locks shows it: its key's two halves, the holding
	// backend and its transaction.
	classID, objID int64
	pid            int64
	vxid           string
}

// holds looks the lock up in pg_locks (the lock manager's state now, not
// a snapshot): granted to the backend and the transaction that took it.
func (u *pgUnlocker) holds(ctx context.Context, tx *sqlx.Tx) error {
	var held bool
	err := tx.QueryRowxContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
WHERE locktype = 'advisory' AND granted AND pid = $1 AND virtualtransaction = $2
  AND classid = $3::bigint::oid AND objid = $4::bigint::oid AND objsubid = 1)`, u.pid, u.vxid, u.classID, u.objID).Scan(&held)
	switch {
	case err != nil:
		return err
	case !held:
		return fmt.Errorf("%w: backend %d no longer holds it (terminated, or its connection died); the batch was rolled back", store.ErrLockLost, u.pid)
	}
	return nil
}

// Unlock ends the transaction, which releases the lock, and returns the
// connection. If that fails, closing the connection ends the session and
// releases it all the same.
func (u *pgUnlocker) Unlock() error {
	if !u.end() {
		return nil
	}
	err := u.tx.Rollback()
	if cerr := u.conn.Close(); err == nil {
		err = cerr
	}
	return err
}
