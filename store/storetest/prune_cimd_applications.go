package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// PruneCIMD runs PruneCIMDApplications batch after batch to the end and
// returns the applications deleted.
func PruneCIMD(t *testing.T, s store.Store, now time.Time, max int, dry bool) int64 {
	t.Helper()
	var after, deleted int64
	var gone []int64
	for i := 0; ; i++ {
		require.Less(t, i, 10000, "walk does not end")
		res, err := s.PruneCIMDApplications(context.Background(), store.PruneCIMDApplicationsParams{Now: now, After: after, Max: max, DryRun: dry, Gone: gone})
		require.NoError(t, err)
		if res.Candidates == 0 {
			return deleted
		}
		deleted += res.Deleted
		after = res.Next
		if dry {
			gone = append(gone, res.ExtraAccessTokens...)
		}
	}
}

// Every edge of Django's cascade when DOT deletes an application, and the
// liveness rules of clearcimdapplications.
func testCIMDCascade(t *testing.T, e Harness) {
	now := time.Now()
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	if !e.Layout().AtLeast(DOT341) {
		_, err := e.Store().PruneCIMDApplications(context.Background(), store.PruneCIMDApplicationsParams{Now: now, Max: 10})
		assert.True(t, errors.Is(err, store.ErrNoCIMD), "%v", err)
		return
	}
	a := e.ForApplication(t, e.Application(t, true, past)) // prunable
	x := e.ForApplication(t, e.Application(t, false, time.Time{}))
	a1 := a.AccessToken(t, past)
	i1 := a.IDToken(t, past)
	a.Link(t, AccessToken, a1, "id_token_id", i1)
	r1 := a.RefreshToken(t, a1, past) // revoked
	g1 := a.Grant(t, past)
	// Across applications: X's live access token bound to A's ID token
	// goes with it (CASCADE); X's refresh token on it loses it (SET_NULL).
	i2 := a.IDToken(t, past)
	x1 := x.AccessToken(t, future)
	x.Link(t, AccessToken, x1, "id_token_id", i2)
	xr1 := x.RefreshToken(t, x1, time.Time{})
	// X's access token issued from A's refresh token loses its source.
	r2 := a.RefreshToken(t, 0, past)
	x2 := x.AccessToken(t, future)
	x.Link(t, AccessToken, x2, "source_refresh_token_id", r2)
	// X's refresh token bound to A's access token loses it.
	a3 := a.AccessToken(t, past)
	xr3 := x.RefreshToken(t, 0, time.Time{})
	x.Link(t, RefreshToken, xr3, "access_token_id", a3)

	kept := map[string]int64{}
	b := e.ForApplication(t, e.Application(t, true, past))
	b.AccessToken(t, future) // live access token
	kept["live access token"] = appOf(b)
	c := e.ForApplication(t, e.Application(t, true, past))
	c.RefreshToken(t, c.AccessToken(t, past), time.Time{}) // unrevoked refresh token
	kept["unrevoked refresh token"] = appOf(c)
	d := e.ForApplication(t, e.Application(t, true, past))
	d.Grant(t, future)
	kept["live grant"] = appOf(d)
	f := e.ForApplication(t, e.Application(t, true, past))
	f.IDToken(t, future)
	kept["live ID token"] = appOf(f)
	kept["not expired"] = e.Application(t, true, future)
	kept["not CIMD"] = e.Application(t, false, past)
	kept["no expiry"] = e.Application(t, true, time.Time{})
	kept["expires exactly now"] = e.Application(t, true, now)

	res, err := e.Store().PruneCIMDApplications(context.Background(), store.PruneCIMDApplicationsParams{Now: now, Max: 100})
	require.NoError(t, err)
	assert.EqualValues(t, 1, res.Deleted)
	assert.Equal(t, 5, res.Candidates, "A, B, C, D, F")
	assert.EqualValues(t, 3, res.AccessTokens, "a1, a3 and X's x1")
	assert.Equal(t, []int64{x1}, res.ExtraAccessTokens)
	assert.EqualValues(t, 2, res.RefreshTokens)
	assert.EqualValues(t, 2, res.IDTokens)
	assert.EqualValues(t, 1, res.Grants)

	apps := e.IDs(t, Application)
	assert.NotContains(t, apps, appOf(a))
	for why, id := range kept {
		assert.Contains(t, apps, id, "kept: %s", why)
	}
	assert.Contains(t, apps, appOf(x))
	for _, gone := range []struct {
		table Table
		id    int64
	}{{AccessToken, a1}, {AccessToken, a3}, {AccessToken, x1}, {IDToken, i1}, {IDToken, i2}, {RefreshToken, r1}, {RefreshToken, r2}, {Grant, g1}} {
		assert.NotContains(t, e.IDs(t, gone.table), gone.id, "%s %d goes", gone.table, gone.id)
	}
	assert.Contains(t, e.IDs(t, AccessToken), x2)
	assert.Zero(t, e.Ref(t, AccessToken, x2, "source_refresh_token_id"), "SET_NULL of the deleted refresh token")
	assert.Contains(t, e.IDs(t, RefreshToken), xr1)
	assert.Zero(t, e.Ref(t, RefreshToken, xr1, "access_token_id"), "SET_NULL of the cascaded access token")
	assert.Contains(t, e.IDs(t, RefreshToken), xr3)
	assert.Zero(t, e.Ref(t, RefreshToken, xr3, "access_token_id"), "SET_NULL of the deleted access token")

	// The walk goes on past what it kept: a second run finds the same and
	// deletes nothing.
	assert.EqualValues(t, 0, PruneCIMD(t, e.Store(), now, 2, false))
}

// appOf is the application a harness from ForApplication seeds for.
func appOf(h Harness) int64 { return h.(interface{ App() int64 }).App() }

// DOT checks liveness per batch, after the cascades of earlier batches:
// an application's ID token, deleted with it, takes another application's
// live access token with it, which may then be prunable in a later batch.
// So the result depends on the batch size and the order, and a dry run
// must see it too.
func testCIMDBatchOrder(t *testing.T, e Harness) {
	if !e.Layout().AtLeast(DOT341) {
		return
	}
	base := time.Now()
	var now, past, future time.Time
	seed := func(holderFirst bool) (p, q int64) {
		// Each case compares with a now 10 h before the last one's, so the
		// applications earlier cases left are not expired for it.
		now = base.Add(-10 * time.Hour * time.Duration(len(e.IDs(t, Application))+1))
		past, future = now.Add(-time.Hour), now.Add(time.Hour)
		mk := func() int64 { return e.Application(t, true, past) }
		if holderFirst {
			p, q = mk(), mk()
		} else {
			q, p = mk(), mk()
		}
		ip := e.ForApplication(t, p).IDToken(t, past)
		qh := e.ForApplication(t, q)
		q1 := qh.AccessToken(t, future)
		qh.Link(t, AccessToken, q1, "id_token_id", ip)
		return p, q
	}
	for _, c := range []struct {
		holderFirst bool
		batch       int
		want        int64
	}{
		{true, 1, 2},  // P's batch takes q1; Q's later batch finds it idle
		{true, 2, 1},  // one batch: Q is live when checked
		{false, 1, 1}, // Q checked first, while still live
	} {
		p, q := seed(c.holderFirst)
		dry := PruneCIMD(t, e.Store(), now, c.batch, true)
		assert.Equal(t, c.want, dry, "dry run, holder first %v, batch %d", c.holderFirst, c.batch)
		got := PruneCIMD(t, e.Store(), now, c.batch, false)
		assert.Equal(t, c.want, got, "holder first %v, batch %d", c.holderFirst, c.batch)
		apps := e.IDs(t, Application)
		assert.NotContains(t, apps, p)
		assert.Equal(t, c.want == 1, slices.Contains(apps, q))
	}
}
