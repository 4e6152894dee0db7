package sqlstore

import (
	"context"
	"fmt"
	"strconv"

	"github.com/oauthkit/oauthkit/store"
)

// CountMatches counts the rows a step would delete after the earlier steps
// of the same run, in one statement, deleting nothing (a dry run).
func (s *Store) CountMatches(ctx context.Context, p store.CountParams) (int64, error) {
	table, err := s.targetTable(p.Target)
	if err != nil {
		return 0, err
	}
	var args []any
	where := s.wouldDelete(p.Step, p.Earlier, "c0", 0, &args)
	var n int64
	q := s.db.Rebind(`SELECT count(*) FROM ` + table + ` AS c0 WHERE ` + where)
	if err := s.db.QueryRowxContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s in %s: %w", p.Target, s.display, classify(err))
	}
	return n, nil
}

func (s *Store) targetTable(t store.Target) (string, error) {
	switch t {
	case store.RefreshRevokedBefore, store.RefreshRevokedAtOrBefore, store.RefreshOrphaned,
		store.RefreshAccessExpiredBefore, store.RefreshLiveAccessExpiredAtOrBefore:
		return s.qRefresh, nil
	case store.AccessExpiredBefore:
		return s.qAccess, nil
	case store.IDTokenExpiredBefore:
		return s.qID, nil
	case store.GrantExpiredBefore:
		return s.qGrant, nil
	}
	return "", fmt.Errorf("unknown deletion target %d", int(t))
}

func isRefresh(t store.Target) bool {
	switch t {
	case store.RefreshRevokedBefore, store.RefreshRevokedAtOrBefore, store.RefreshOrphaned,
		store.RefreshAccessExpiredBefore, store.RefreshLiveAccessExpiredAtOrBefore:
		return true
	}
	return false
}

// wouldDelete is SQL that holds for the rows of step's table (aliased al)
// that the step deletes when the earlier steps have run. It mirrors the
// conditions of DeleteBatch; where those ask "does no row point at this
// one", rows an earlier step deletes do not count as pointing.
func (s *Store) wouldDelete(step store.Step, earlier []store.Step, al string, depth int, args *[]any) string {
	d := strconv.Itoa(depth + 1)
	cut := func() string { *args = append(*args, s.timeArg(step.Cutoff)); return "?" }
	// notDeletedBefore excludes rows of the same table an earlier step takes.
	notDeletedBefore := func(cond string) string {
		for i, e := range earlier {
			if isRefresh(e.Target) == isRefresh(step.Target) && e.Target != step.Target && isRefresh(step.Target) {
				cond += " AND NOT " + s.definitely(e, earlier[:i], al, depth, args)
			}
		}
		return cond
	}
	switch step.Target {
	case store.RefreshRevokedBefore:
		return notDeletedBefore(al + ".revoked < " + cut())
	case store.RefreshRevokedAtOrBefore:
		return notDeletedBefore(al + ".revoked <= " + cut())
	case store.RefreshOrphaned:
		return notDeletedBefore(al + ".revoked IS NULL AND " + al + ".access_token_id IS NULL")
	case store.RefreshAccessExpiredBefore:
		a := "a" + d
		return notDeletedBefore("EXISTS (SELECT 1 FROM " + s.qAccess + " " + a + " WHERE " + a + ".id = " + al + ".access_token_id AND " + a + ".expires < " + cut() + ")")
	case store.RefreshLiveAccessExpiredAtOrBefore:
		a := "a" + d
		return notDeletedBefore(al + ".revoked IS NULL AND EXISTS (SELECT 1 FROM " + s.qAccess + " " + a + " WHERE " + a + ".id = " + al + ".access_token_id AND " + a + ".expires <= " + cut() + ")")
	case store.AccessExpiredBefore:
		r := "r" + d
		cond := al + ".expires < " + cut() + " AND NOT EXISTS (SELECT 1 FROM " + s.qRefresh + " " + r + " WHERE " + r + ".access_token_id = " + al + ".id"
		for i, e := range earlier {
			if isRefresh(e.Target) {
				cond += " AND NOT " + s.definitely(e, earlier[:i], r, depth+1, args)
			}
		}
		return cond + ")"
	case store.IDTokenExpiredBefore:
		a := "a" + d
		cond := al + ".expires < " + cut() + " AND NOT EXISTS (SELECT 1 FROM " + s.qAccess + " " + a + " WHERE " + a + ".id_token_id = " + al + ".id"
		for i, e := range earlier {
			if e.Target == store.AccessExpiredBefore {
				cond += " AND NOT " + s.definitely(e, earlier[:i], a, depth+1, args)
			}
		}
		return cond + ")"
	default: // store.GrantExpiredBefore
		return al + ".expires < " + cut()
	}
}

// definitely is wouldDelete with SQL's NULL read as false: "revoked < x" is
// NULL for a token never revoked, and NOT of NULL would drop the row too.
func (s *Store) definitely(step store.Step, earlier []store.Step, al string, depth int, args *[]any) string {
	return "COALESCE((" + s.wouldDelete(step, earlier, al, depth, args) + "), FALSE)"
}
