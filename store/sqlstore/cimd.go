package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/store"
)

// cimdSource is the registration_source DOT 3.4 writes for applications
// registered from a Client ID Metadata Document.
const cimdSource = "cimd"

// PruneCIMDApplications runs one batch of DOT 3.4.1's
// clearcimdapplications: the page of candidates is read first, then, in
// one transaction, the candidates still CIMD and expired are locked (a
// token minted meanwhile takes a share lock on its application for its
// foreign key, so it is either seen by the liveness check or waits, and
// fails once the application is gone: it is never deleted unseen), the
// live ones kept, and the rest deleted with Django's cascade.
func (s *Store) PruneCIMDApplications(ctx context.Context, p store.PruneCIMDApplicationsParams) (store.PruneCIMDResult, error) {
	if p.Max <= 0 {
		return store.PruneCIMDResult{}, fmt.Errorf("prune CIMD applications: Max must be positive, got %d", p.Max)
	}
	cols, err := s.ApplicationColumns(ctx)
	if err != nil {
		return store.PruneCIMDResult{}, err
	}
	if !cols.Has("registration_source") || !cols.Has("cimd_expires_at") {
		return store.PruneCIMDResult{}, fmt.Errorf("%s: application table %q has no registration_source and cimd_expires_at: %w", s.display, s.tables.Application, store.ErrNoCIMD)
	}
	f, err := fenceOf(p.Lock)
	if err != nil {
		return store.PruneCIMDResult{}, fmt.Errorf("prune CIMD applications in %s: %w", s.display, err)
	}
	res, err := s.pruneCIMD(ctx, p, f)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, store.ErrLockLost) {
			err = transientError{fmt.Errorf("statement timeout: %w", err)}
		}
		return res, fmt.Errorf("prune expired CIMD applications in %s: %w", s.display, s.fail(err))
	}
	return res, nil
}

func (s *Store) pruneCIMD(ctx context.Context, p store.PruneCIMDApplicationsParams, f fence) (store.PruneCIMDResult, error) {
	var res store.PruneCIMDResult
	now := s.d.timeArg(p.Now)
	app, access, refresh, idt, grant := s.q(roleApplication), s.q(roleAccess), s.q(roleRefresh), s.q(roleIDToken), s.q(roleGrant)
	expired := `registration_source = ? AND cimd_expires_at < ?`

	// The page, as DOT reads it: before the transaction, by primary key,
	// past the cursor (rows kept alive are not rescanned).
	var page []int64
	q := s.db.Rebind(`SELECT id FROM ` + app + ` WHERE ` + expired + ` AND id > ? ORDER BY id LIMIT ?`)
	if err := s.db.SelectContext(ctx, &page, q, cimdSource, now, p.After, p.Max); err != nil {
		return res, err
	}
	res.Candidates = len(page)
	if len(page) == 0 {
		res.Next = p.After
		return res, nil
	}
	res.Next = page[len(page)-1]

	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	set := s.d.idSet()
	var locked []int64
	q = tx.Rebind(`SELECT id FROM ` + app + ` WHERE id IN ` + set + ` AND ` + expired + ` ORDER BY id` + s.d.lockRows())
	if err := tx.SelectContext(ctx, &locked, q, idsJSON(page), cimdSource, now); err != nil {
		return res, err
	}
	res.Locked = len(locked)

	// Liveness, from the token side, as DOT queries it.
	gone := ""
	args := []any{idsJSON(locked), now}
	if len(p.Gone) > 0 {
		gone = ` AND id NOT IN ` + set
		args = append(args, idsJSON(p.Gone))
	}
	args = append(args, idsJSON(locked), now, idsJSON(locked), now, idsJSON(locked))
	var live []int64
	q = tx.Rebind(`SELECT application_id FROM ` + access + ` WHERE application_id IN ` + set + ` AND expires > ?` + gone + `
UNION SELECT application_id FROM ` + idt + ` WHERE application_id IN ` + set + ` AND expires > ?
UNION SELECT application_id FROM ` + grant + ` WHERE application_id IN ` + set + ` AND expires > ?
UNION SELECT application_id FROM ` + refresh + ` WHERE application_id IN ` + set + ` AND revoked IS NULL`)
	if err := tx.SelectContext(ctx, &live, q, args...); err != nil {
		return res, err
	}
	var prunable []int64
	for _, id := range locked {
		if !slices.Contains(live, id) {
			prunable = append(prunable, id)
		}
	}
	if len(prunable) > 0 {
		if err := s.cascadeApplications(ctx, tx, prunable, p.Gone, &res); err != nil {
			return res, err
		}
	}
	if p.DryRun {
		return res, tx.Rollback()
	}
	return res, commitFenced(ctx, tx, f)
}

// cascadeApplications deletes applications as Django's collector does,
// since DOT's foreign keys have no ON DELETE action: their access, refresh
// and ID tokens and grants (CASCADE); the access tokens, of any
// application, bound to those ID tokens (AccessToken.id_token CASCADE);
// and it nulls refreshtoken.access_token_id for every deleted access token
// and accesstoken.source_refresh_token_id for every deleted refresh token
// (SET_NULL). References are nulled before the rows they name go, so that
// databases that check foreign keys at once (MySQL) accept every statement.
func (s *Store) cascadeApplications(ctx context.Context, tx *sqlx.Tx, apps, gone []int64, res *store.PruneCIMDResult) error {
	access, refresh, idt, grant, app := s.q(roleAccess), s.q(roleRefresh), s.q(roleIDToken), s.q(roleGrant), s.q(roleApplication)
	set := s.d.idSet()
	ids, goneIDs := idsJSON(apps), idsJSON(gone)
	theirIDTokens := `SELECT id FROM ` + idt + ` WHERE application_id IN ` + set
	// The access tokens that go: the applications' own, and any bound to
	// one of their ID tokens.
	doomed := `application_id IN ` + set + ` OR id_token_id IN (` + theirIDTokens + `)`
	// In a dry run, some of them an earlier batch already took (in a real
	// run they are gone, and gone is empty): they are still there to
	// delete, but not counted again.
	var counted int64
	if len(gone) > 0 {
		q := tx.Rebind(`SELECT COUNT(*) FROM ` + access + ` WHERE (` + doomed + `) AND id IN ` + set)
		if err := tx.GetContext(ctx, &counted, q, ids, ids, goneIDs); err != nil {
			return err
		}
	}
	var extra []int64
	q := tx.Rebind(`SELECT id FROM ` + access + ` WHERE id_token_id IN (` + theirIDTokens + `) AND (application_id IS NULL OR application_id NOT IN ` + set + `) AND id NOT IN ` + set + ` ORDER BY id`)
	if err := tx.SelectContext(ctx, &extra, q, ids, ids, goneIDs); err != nil {
		return err
	}
	res.ExtraAccessTokens = extra
	d := s.d
	steps := []struct {
		query string
		args  []any
		count *int64
	}{
		{d.nullRefs(refresh, "access_token_id", `(SELECT id FROM `+access+` WHERE `+doomed+`)`), []any{ids, ids}, nil},
		{d.nullRefs(access, "source_refresh_token_id", `(SELECT id FROM `+refresh+` WHERE application_id IN `+set+`)`), []any{ids}, nil},
		{d.deleteWhere(access, doomed), []any{ids, ids}, &res.AccessTokens},
		{d.deleteWhere(refresh, `application_id IN `+set), []any{ids}, &res.RefreshTokens},
		{d.deleteWhere(idt, `application_id IN `+set), []any{ids}, &res.IDTokens},
		{d.deleteWhere(grant, `application_id IN `+set), []any{ids}, &res.Grants},
		{d.deleteWhere(app, `id IN `+set), []any{ids}, &res.Deleted},
	}
	for _, st := range steps {
		r, err := tx.ExecContext(ctx, tx.Rebind(st.query), st.args...)
		if err != nil {
			return fmt.Errorf("cascade: %w", err)
		}
		if st.count != nil {
			if *st.count, err = r.RowsAffected(); err != nil {
				return err
			}
		}
	}
	res.AccessTokens -= counted
	return nil
}

// idsJSON is ids as a JSON array, the one parameter of idSet.
func idsJSON(ids []int64) string {
	if ids == nil {
		ids = []int64{}
	}
	b, _ := json.Marshal(ids)
	return string(b)
}
