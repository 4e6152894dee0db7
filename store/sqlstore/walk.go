package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/store"
)

// DeleteBatch deletes at most p.Max rows matching p.Target after p.After.
func (s *Store) DeleteBatch(ctx context.Context, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
	if p.Max <= 0 {
		return store.DeleteBatchResult{}, fmt.Errorf("delete batch: Max must be positive, got %d", p.Max)
	}
	r, err := s.bind(store.Step{Target: p.Target, Cutoff: p.Cutoff})
	if err != nil {
		return store.DeleteBatchResult{}, err
	}
	f, err := fenceOf(p.Lock)
	if err != nil {
		return store.DeleteBatchResult{}, fmt.Errorf("delete %s from %s in %s: %w", p.Target, r.tableName, s.display, err)
	}
	res, err := s.d.deleteBatch(ctx, s, r, p, f)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, store.ErrLockLost) {
			// The caller's statement timeout: the batch was rolled back.
			err = transientError{fmt.Errorf("statement timeout: %w", err)}
		}
		return res, fmt.Errorf("delete %s from %s in %s: %w", p.Target, r.tableName, s.display, s.fail(err))
	}
	return res, nil
}

// Partition cuts the walk of a target's table into disjoint ranges.
func (s *Store) Partition(ctx context.Context, p store.PartitionParams) ([]store.Range, error) {
	r, err := s.bind(store.Step{Target: p.Target, Cutoff: p.Cutoff})
	if err != nil {
		return nil, err
	}
	if p.Parts <= 1 {
		return []store.Range{{}}, nil
	}
	ranges, err := s.d.partition(ctx, s, r, p.Parts)
	if err != nil {
		return nil, fmt.Errorf("partition %s in %s: %w", r.tableName, s.display, s.fail(err))
	}
	return ranges, nil
}

// idRanges cuts the ids from lo to hi into at most parts ranges of id
// cursors; the last is open, so rows added meanwhile are in it.
func idRanges(lo, hi int64, parts int) []store.Range {
	if hi <= lo || parts <= 1 {
		return []store.Range{{}}
	}
	width := (hi - lo + int64(parts)) / int64(parts)
	var out []store.Range
	from := store.Cursor("")
	for i := 1; i < parts; i++ {
		edge := lo + int64(i)*width // ranges hold ids < edge
		if edge > hi {
			break
		}
		out = append(out, store.Range{From: from, Until: idCursor(edge)})
		from = idCursor(edge - 1) // the walk starts after From
	}
	return append(out, store.Range{From: from})
}

// idUntil reads an Until of a walk by id: the walk stays below it
// (math.MaxInt64 when there is none).
func idUntil(c store.Cursor) (int64, error) {
	if c == "" {
		return math.MaxInt64, nil
	}
	return parseIDCursor(c)
}

// CountMatches counts the rows a step would delete after the earlier steps
// of the same run, in one statement, deleting nothing (a dry run).
func (s *Store) CountMatches(ctx context.Context, p store.CountMatchesParams) (int64, error) {
	r, ok := rules[p.Target]
	if !ok {
		return 0, fmt.Errorf("unknown deletion target %d", int(p.Target))
	}
	var args []any
	where := s.where(p.Step, p.Earlier, "c0", 0, &args)
	var n int64
	q := s.db.Rebind(`SELECT count(*) FROM ` + s.q(r.table) + ` AS c0 WHERE ` + where)
	if err := s.db.QueryRowxContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s in %s: %w", p.Target, s.display, s.fail(err))
	}
	return n, nil
}

// idCursor is the cursor of a walk by primary key: strictly after id.
func idCursor(id int64) store.Cursor { return store.Cursor("id:" + strconv.FormatInt(id, 10)) }

func parseIDCursor(c store.Cursor) (int64, error) {
	if c == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(strings.TrimPrefix(string(c), "id:"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad cursor %q for a walk by id", c)
	}
	return v, nil
}

// idWalkTotal is where a walk by id ends, for a progress display: the
// table's largest id (a primary-key lookup), or the range's end.
func idWalkTotal(ctx context.Context, tx *sqlx.Tx, table string, until int64) (int64, error) {
	var maxID int64
	if err := tx.GetContext(ctx, &maxID, `SELECT COALESCE(MAX(t.id), 0) FROM `+table+` AS t`); err != nil {
		return 0, err
	}
	return min(maxID, until-1), nil
}

// scanWindow bounds how many consecutive ids one batch of a walk by id
// looks through for its matches, in batches: a batch takes the next Max
// matching rows, but where matches are rare (a table mostly live) it
// stops at this many batch sizes of ids, so one transaction never holds
// its locks for a scan of the whole table.
const scanWindow = 16

// windowWidth is scanWindow batch sizes of ids, saturating.
func windowWidth(max int) int64 {
	if int64(max) > math.MaxInt64/scanWindow {
		return math.MaxInt64
	}
	return int64(max) * scanWindow
}

// nextIDWindow is where the next batch of a walk by id looks: the ids in
// (lo, hi], from the first row after the cursor (found by the primary
// key, past any gap), width ids at most and below until. ok is false when
// no row is left.
func nextIDWindow(ctx context.Context, tx *sqlx.Tx, table string, after, until int64, width int64) (lo, hi int64, ok bool, err error) {
	var first sql.NullInt64
	if err := tx.GetContext(ctx, &first, `SELECT MIN(t.id) FROM `+table+` AS t WHERE t.id > ? AND t.id < ?`, after, until); err != nil {
		return 0, 0, false, err
	}
	if !first.Valid {
		return 0, 0, false, nil
	}
	lo = first.Int64 - 1
	hi = until - 1
	if width < hi-lo { // lo+width without overflow
		hi = lo + width
	}
	return lo, hi, true, nil
}

// keysetNext is where a walk by id goes on after a batch that looked at
// (lo, hi] and took ids (in order): right after the last one when the
// batch filled up (more may follow in the window), else past the window.
func keysetNext(ids []int64, max int, hi int64) int64 {
	if len(ids) >= max {
		return ids[len(ids)-1]
	}
	return hi
}
