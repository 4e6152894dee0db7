package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
)

// walkChoice is which table's pages the PostgreSQL walk goes over for a
// rule whose rows can also be found from another table (the refresh
// tokens of expired access tokens).
type walkChoice int

const (
	walkUndecided walkChoice = iota
	// walkDriven: the driving table's pages; each of its rows that
	// matches (an expired access token) is looked up in the rule's table
	// through the unique index on the joining column.
	walkDriven
	// walkOwn: the rule's own table's pages; each row looks up the row
	// it points at by primary key.
	walkOwn
)

// chooseWalk picks the walk that probes an index fewer times: the driven
// walk probes once per matching driving row, the own walk once per row of
// the rule's table. Which is fewer depends on the data (a table where
// most access tokens expired without a refresh token, or a refresh table
// much larger than the expired access tokens), so it is read from the
// planner's estimates, which cost no scan. A wrong guess (stale
// statistics) costs time, never rows: both walks delete the same rows.
func (d postgresDialect) chooseWalk(ctx context.Context, s *Store, r boundRule) (walkChoice, error) {
	if s.walk != walkUndecided {
		return s.walk, nil
	}
	driving, err := planRows(ctx, s, `SELECT 1 FROM `+r.driveTable+` AS a WHERE `+r.driveCond, r.args[0])
	if err != nil {
		return walkUndecided, fmt.Errorf("estimate the rows of %s matching: %w", r.driveTable, err)
	}
	own, err := planRows(ctx, s, `SELECT 1 FROM `+r.table)
	if err != nil {
		return walkUndecided, fmt.Errorf("estimate the rows of %s: %w", r.tableName, err)
	}
	if own < driving {
		return walkOwn, nil
	}
	return walkDriven, nil
}

// planRows is the planner's estimate of the rows query returns.
func planRows(ctx context.Context, s *Store, query string, args ...any) (float64, error) {
	var out []byte
	if err := s.db.QueryRowxContext(ctx, s.db.Rebind(`EXPLAIN (FORMAT JSON) `+query), args...).Scan(&out); err != nil {
		return 0, err
	}
	var plan []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plan); err != nil || len(plan) != 1 {
		return 0, fmt.Errorf("unexpected EXPLAIN output %.200q", out)
	}
	return plan[0].Plan.Rows, nil
}
