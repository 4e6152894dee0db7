package cleanup_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// A dry run deletes nothing and reports exactly what a real run at the same
// moment then deletes, step by step, under every rule set.
func TestDryRunMatchesRealRun(t *testing.T) {
	settings := []cleanup.Options{
		{Rules: cleanup.RulesDOT33, RefreshTokenExpire: 24 * time.Hour},
		{Rules: cleanup.RulesDOT33},
		{Rules: cleanup.RulesDOT34, RefreshTokenExpire: 24 * time.Hour},
		{Rules: cleanup.RulesDOT34, RefreshTokenExpire: 24 * time.Hour, RefreshTokenGracePeriod: 2 * time.Hour},
		{Rules: cleanup.RulesDOT34, RefreshTokenExpire: 24 * time.Hour, RefreshTokenReuseProtection: true},
		{Rules: cleanup.RulesDOT34},
		{Rules: cleanup.RulesDOT34, RefreshTokenExpire: 6 * time.Hour, Only: []cleanup.Kind{cleanup.KindAccess, cleanup.KindIDToken}},
	}
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		for _, o := range settings {
			// Fresh rows each round: the small world plus a realistic mix,
			// with refresh tokens revoked while still linked (which DOT ≤ 3.3's
			// two refresh steps both match).
			e.Exec(t, `UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = NULL, id_token_id = NULL`)
			for _, tbl := range []string{"refreshtoken", "accesstoken", "idtoken", "grant"} {
				e.Exec(t, `DELETE FROM oauth2_provider_`+tbl)
			}
			seed(t, e)
			e.SeedMix(t, 300, T)
			e.RefreshToken(t, e.AccessToken(t, T.Add(-72*time.Hour)), T.Add(-48*time.Hour))

			before := e.Snapshot(t)
			o.Store, o.Now, o.BatchSize = e.Store, T, 7
			dry := o
			dry.DryRun = true
			drep, err := cleanup.Clear(context.Background(), dry)
			require.NoError(t, err)
			assert.True(t, drep.DryRun)
			assert.Equal(t, before, e.Snapshot(t), "a dry run deletes nothing")

			rep, err := cleanup.Clear(context.Background(), o)
			require.NoError(t, err)
			assert.Equal(t, counts(rep), counts(drep), "%+v", o)
			assert.Positive(t, rep.Deleted())
		}
	})
}

func TestOnly(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		w := seed(t, e)
		rep, err := cleanup.Clear(context.Background(), cleanup.Options{Store: e.Store, Now: T, Rules: cleanup.RulesDOT34,
			RefreshTokenExpire: 24 * time.Hour, Only: []cleanup.Kind{cleanup.KindGrant, cleanup.KindRefresh}})
		require.NoError(t, err)
		assert.Equal(t, map[string]int64{"revoked_refresh_tokens": 3, "orphaned_refresh_tokens": 1, "expired_refresh_tokens": 1, "expired_grants": 1}, counts(rep))
		left := names("at1", "at2", "at3", "at4", "atA", "atB", "rt4", "r2", "idt1", "idt2", "idt3", "idt4", "g2")
		if e.Layout.AtLeast(sqlstoretest.DOTMain) {
			left = names(append(left, "par1", "par2", "par3")...)
		}
		assert.Equal(t, left, w.left(t), "access and ID tokens (and pushed authorization requests) untouched")
		for _, st := range rep.Steps {
			if st.Name == cleanup.StepExpiredAccess {
				assert.True(t, st.Skipped)
				assert.Contains(t, st.SkipReason, "not selected")
			}
		}
		_, err = cleanup.Clear(context.Background(), cleanup.Options{Store: e.Store, Only: []cleanup.Kind{"tokens"}})
		assert.True(t, errors.Is(err, cleanup.ErrInvalidOptions))
	})
}

// A time budget stops the run after the batch that crosses it, with no
// error; the next run goes on where it stopped.
func TestMaxDurationStopsAndResumes(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		e.InTx(t, func() {
			for i := 0; i < 12; i++ {
				e.Grant(t, T.Add(-time.Hour))
			}
		})
		// Two batches and their pauses (2 s) cross the budget (1.5 s)
		// whatever the machine's load: the pauses are lower bounds.
		opts := cleanup.Options{Store: e.Store, Now: T, Rules: cleanup.RulesDOT33, BatchSize: 2,
			BatchInterval: time.Second, MaxDuration: 1500 * time.Millisecond}
		rep, err := cleanup.Clear(context.Background(), opts)
		require.NoError(t, err)
		assert.True(t, rep.StoppedEarly)
		left := len(e.IDs(t, "grant"))
		assert.Greater(t, left, 0, "the budget stopped the run before the end")
		assert.Less(t, left, 12, "some batches ran")
		assert.EqualValues(t, 12-left, rep.Deleted())

		for i := 0; i < 10 && rep.StoppedEarly; i++ {
			rep, err = cleanup.Clear(context.Background(), opts)
			require.NoError(t, err)
		}
		assert.False(t, rep.StoppedEarly, "a later run gets to the end")
		assert.Empty(t, e.IDs(t, "grant"), "later runs finish the work")
	})
}
