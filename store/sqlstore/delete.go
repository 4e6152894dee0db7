package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/oauthkit/oauthkit/store"
)

// targetSQL is one deletion rule in SQL. cond refers to the table being
// cleaned as "t" and holds one "?" for the cutoff when usesCutoff is set.
type targetSQL struct {
	table      string // quoted
	tableName  string // as configured, for messages
	cond       string
	usesCutoff bool
	// nullify, when set, is Django's SET_NULL: "UPDATE <nullTable> SET
	// <nullColumn> = NULL" for the rows pointing at a deleted one, done in
	// the same transaction because DOT's foreign keys have no ON DELETE action.
	nullTable, nullColumn string
}

func (s *Store) targetSQL(t store.Target) (targetSQL, error) {
	refresh := func(cond string, cutoff bool) targetSQL {
		return targetSQL{table: s.qRefresh, tableName: s.tables.RefreshToken, cond: cond, usesCutoff: cutoff,
			nullTable: s.qAccess, nullColumn: "source_refresh_token_id"}
	}
	switch t {
	case store.RefreshRevokedBefore:
		return refresh(`t.revoked < ?`, true), nil
	case store.RefreshRevokedAtOrBefore:
		return refresh(`t.revoked <= ?`, true), nil
	case store.RefreshOrphaned:
		return refresh(`t.revoked IS NULL AND t.access_token_id IS NULL`, false), nil
	case store.RefreshAccessExpiredBefore:
		return refresh(`EXISTS (SELECT 1 FROM `+s.qAccess+` a WHERE a.id = t.access_token_id AND a.expires < ?)`, true), nil
	case store.RefreshLiveAccessExpiredAtOrBefore:
		return refresh(`t.revoked IS NULL AND EXISTS (SELECT 1 FROM `+s.qAccess+` a WHERE a.id = t.access_token_id AND a.expires <= ?)`, true), nil
	case store.AccessExpiredBefore:
		// Django would also set refreshtoken.access_token_id to NULL for the
		// deleted rows; the NOT EXISTS re-checked by the DELETE itself means
		// there are none, so that UPDATE is left out.
		return targetSQL{table: s.qAccess, tableName: s.tables.AccessToken, usesCutoff: true,
			cond: `t.expires < ? AND NOT EXISTS (SELECT 1 FROM ` + s.qRefresh + ` r WHERE r.access_token_id = t.id)`}, nil
	case store.IDTokenExpiredBefore:
		return targetSQL{table: s.qID, tableName: s.tables.IDToken, usesCutoff: true,
			cond: `t.expires < ? AND NOT EXISTS (SELECT 1 FROM ` + s.qAccess + ` a WHERE a.id_token_id = t.id)`}, nil
	case store.GrantExpiredBefore:
		return targetSQL{table: s.qGrant, tableName: s.tables.Grant, usesCutoff: true, cond: `t.expires < ?`}, nil
	}
	return targetSQL{}, fmt.Errorf("unknown deletion target %d", int(t))
}

// DeleteBatch deletes at most p.Max rows matching p.Target after p.After.
func (s *Store) DeleteBatch(ctx context.Context, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
	if p.Max <= 0 {
		return store.DeleteBatchResult{}, fmt.Errorf("delete batch: Max must be positive, got %d", p.Max)
	}
	ts, err := s.targetSQL(p.Target)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	var res store.DeleteBatchResult
	if s.dialect == DialectPostgres {
		res, err = s.pgDeleteBatch(ctx, ts, p)
	} else {
		res, err = s.sqliteDeleteBatch(ctx, ts, p)
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The caller's statement timeout: the batch was rolled back.
			err = transientError{fmt.Errorf("statement timeout: %w", err)}
		}
		return res, fmt.Errorf("delete %s from %s in %s: %w", p.Target, ts.tableName, s.display, classify(err))
	}
	return res, nil
}

func (ts targetSQL) args(cutoff any) []any {
	if ts.usesCutoff {
		return []any{cutoff}
	}
	return nil
}

// sqliteDeleteBatch walks the table in rowid (id) order. SQLite takes the
// write lock at BEGIN (_txlock=immediate), so nothing changes between the
// statements of a batch: find the id range of the next Max matches, null
// the references to them, delete them.
func (s *Store) sqliteDeleteBatch(ctx context.Context, ts targetSQL, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
	after := int64(0)
	if p.After != "" {
		v, err := strconv.ParseInt(string(p.After), 10, 64)
		if err != nil {
			return store.DeleteBatchResult{}, fmt.Errorf("bad cursor %q for SQLite", p.After)
		}
		after = v
	}
	cutoff := s.timeArg(p.Cutoff)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	var n int64
	var hi sql.NullInt64
	q := `SELECT count(*), max(id) FROM (SELECT t.id AS id FROM ` + ts.table + ` AS t WHERE t.id > ? AND ` + ts.cond + ` ORDER BY t.id LIMIT ?)`
	args := append(append([]any{after}, ts.args(cutoff)...), p.Max)
	if err := tx.QueryRowxContext(ctx, q, args...).Scan(&n, &hi); err != nil {
		return store.DeleteBatchResult{}, err
	}
	if n == 0 {
		return store.DeleteBatchResult{Next: p.After, Done: true}, tx.Commit()
	}
	rangeArgs := append([]any{after, hi.Int64}, ts.args(cutoff)...)
	inRange := `t.id > ? AND t.id <= ? AND ` + ts.cond
	if ts.nullTable != "" {
		u := `UPDATE ` + ts.nullTable + ` SET ` + ts.nullColumn + ` = NULL WHERE ` + ts.nullColumn +
			` IN (SELECT t.id FROM ` + ts.table + ` AS t WHERE ` + inRange + `)`
		if _, err := tx.ExecContext(ctx, u, rangeArgs...); err != nil {
			return store.DeleteBatchResult{}, err
		}
	}
	r, err := tx.ExecContext(ctx, `DELETE FROM `+ts.table+` AS t WHERE `+inRange, rangeArgs...)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	deleted, err := r.RowsAffected()
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	if err := tx.Commit(); err != nil {
		return store.DeleteBatchResult{}, err
	}
	return store.DeleteBatchResult{Deleted: deleted, Next: store.Cursor(strconv.FormatInt(hi.Int64, 10)), Done: n < int64(p.Max)}, nil
}

// pgState remembers what the PostgreSQL walk needs to know about the
// server. The Store is shared between goroutines, so the version is read
// once under a sync.Once.
type pgState struct {
	once       sync.Once
	tidRanges  bool // server ≥ 14: TID Range Scan
	versionErr error
	forceIDKey bool // set before use, for benchmarks and tests of the fallback
}

// ForceIDWalk makes the PostgreSQL store walk tables by id (the walk used
// on servers older than 14) instead of by physical position. For tests and
// benchmarks; call it before the store is used.
func (s *Store) ForceIDWalk() {
	if s.pg != nil {
		s.pg.forceIDKey = true
	}
}

func (s *Store) pgUseTIDWalk(ctx context.Context) (bool, error) {
	if s.pg.forceIDKey {
		return false, nil
	}
	s.pg.once.Do(func() {
		var v int
		s.pg.versionErr = s.db.GetContext(ctx, &v, `SELECT current_setting('server_version_num')::int`)
		s.pg.tidRanges = v >= 140000
	})
	return s.pg.tidRanges, s.pg.versionErr
}

// PostgreSQL: every batch is one statement, so one transaction, and the
// condition is re-checked by the DELETE itself. The statement reports how
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
func (s *Store) pgDeleteBatch(ctx context.Context, ts targetSQL, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
	tid, err := s.pgUseTIDWalk(ctx)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	if !tid {
		return s.pgIDBatch(ctx, ts, p)
	}
	cur, err := parseTIDCursor(p.After)
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	cutoff := s.timeArg(p.Cutoff)
	hiBlock := cur.block + cur.window
	with := s.pgBatchCTEs(ts, `t.ctid AS k FROM `+ts.table+` AS t WHERE t.ctid > ?::tid AND t.ctid < ?::tid AND `+ts.cond+` ORDER BY t.ctid LIMIT ?`,
		`t.ctid = ANY (ARRAY(SELECT k FROM batch))`)
	q := s.db.Rebind(with + `
SELECT (SELECT count(*) FROM del), (SELECT count(*) FROM batch), COALESCE((SELECT max(k) FROM batch)::text, ''),
       pg_relation_size(?::regclass) / current_setting('block_size')::bigint`)
	args := []any{fmt.Sprintf("(%d,%d)", cur.block, cur.offset), fmt.Sprintf("(%d,0)", hiBlock)}
	args = append(append(append(args, ts.args(cutoff)...), p.Max), ts.args(cutoff)...)
	args = append(args, ts.table)

	var deleted, selected, nblocks int64
	var maxKey string
	if err := s.db.QueryRowxContext(ctx, q, args...).Scan(&deleted, &selected, &maxKey, &nblocks); err != nil {
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
		switch {
		case selected == 0:
			next.window = cur.window * 4
		case selected < int64(p.Max)/2:
			next.window = min(cur.window*4, cur.window*int64(p.Max)/selected)
		}
	}
	next.window = min(next.window, maxWindowPages)
	done := selected < int64(p.Max) && hiBlock >= nblocks
	return store.DeleteBatchResult{Deleted: deleted, Next: next.String(), Done: done}, nil
}

// maxWindowPages bounds the pages one batch scans (1 GiB of 8 KiB pages).
const maxWindowPages = 1 << 17

// pgBatchCTEs builds "WITH batch AS (...), del AS (...)[, nulled AS (...)]".
// The batch is materialized once; the DELETE re-checks the condition.
func (s *Store) pgBatchCTEs(ts targetSQL, batchSelect, delMatch string) string {
	var b strings.Builder
	b.WriteString("WITH batch AS MATERIALIZED (SELECT " + batchSelect + "),\n")
	b.WriteString("del AS (DELETE FROM " + ts.table + " AS t WHERE " + delMatch + " AND " + ts.cond + " RETURNING t.id)")
	if ts.nullTable != "" {
		b.WriteString(",\nnulled AS (UPDATE " + ts.nullTable + " SET " + ts.nullColumn + " = NULL WHERE " + ts.nullColumn + " IN (SELECT id FROM del))")
	}
	return b.String()
}

// pgIDBatch walks by primary key: for servers without TID Range Scan.
func (s *Store) pgIDBatch(ctx context.Context, ts targetSQL, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
	after := int64(0)
	if p.After != "" {
		v, err := strconv.ParseInt(strings.TrimPrefix(string(p.After), "id:"), 10, 64)
		if err != nil {
			return store.DeleteBatchResult{}, fmt.Errorf("bad cursor %q", p.After)
		}
		after = v
	}
	cutoff := s.timeArg(p.Cutoff)
	with := s.pgBatchCTEs(ts, `t.id AS k FROM `+ts.table+` AS t WHERE t.id > ? AND `+ts.cond+` ORDER BY t.id LIMIT ?`,
		`t.id IN (SELECT k FROM batch)`)
	q := s.db.Rebind(with + `
SELECT (SELECT count(*) FROM del), (SELECT count(*) FROM batch), COALESCE((SELECT max(k) FROM batch), ?)`)
	args := append(append(append(append([]any{after}, ts.args(cutoff)...), p.Max), ts.args(cutoff)...), after)
	var deleted, selected, maxKey int64
	if err := s.db.QueryRowxContext(ctx, q, args...).Scan(&deleted, &selected, &maxKey); err != nil {
		return store.DeleteBatchResult{}, err
	}
	return store.DeleteBatchResult{Deleted: deleted, Next: store.Cursor("id:" + strconv.FormatInt(maxKey, 10)),
		Done: selected < int64(p.Max)}, nil
}

// tidCursor is the PostgreSQL walk's position: strictly after (block,
// offset), looking at window pages from block on.
type tidCursor struct{ block, offset, window int64 }

const initialWindowPages = 64

func (c tidCursor) String() store.Cursor {
	return store.Cursor(fmt.Sprintf("tid:%d:%d:%d", c.block, c.offset, c.window))
}

func parseTIDCursor(c store.Cursor) (tidCursor, error) {
	if c == "" {
		return tidCursor{window: initialWindowPages}, nil
	}
	var cur tidCursor
	if _, err := fmt.Sscanf(string(c), "tid:%d:%d:%d", &cur.block, &cur.offset, &cur.window); err != nil || cur.window <= 0 {
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
