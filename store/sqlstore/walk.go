package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	res, err := s.d.deleteBatch(ctx, s, r, p)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// The caller's statement timeout: the batch was rolled back.
			err = transientError{fmt.Errorf("statement timeout: %w", err)}
		}
		return res, fmt.Errorf("delete %s from %s in %s: %w", p.Target, r.tableName, s.display, s.fail(err))
	}
	return res, nil
}

// CountMatches counts the rows a step would delete after the earlier steps
// of the same run, in one statement, deleting nothing (a dry run).
func (s *Store) CountMatches(ctx context.Context, p store.CountParams) (int64, error) {
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
