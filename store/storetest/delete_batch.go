package storetest

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Drain calls DeleteBatch until the walk is done and returns the rows
// deleted by each batch.
func Drain(t *testing.T, s store.Store, target store.Target, cutoff time.Time, max int) []int64 {
	t.Helper()
	var cur store.Cursor
	var batches []int64
	var walked int64
	for i := 0; ; i++ {
		require.Less(t, i, 10000, "walk does not end")
		res, err := s.DeleteBatch(context.Background(), store.DeleteBatchParams{Target: target, Cutoff: cutoff, Max: max, After: cur})
		require.NoError(t, err)
		batches = append(batches, res.Deleted)
		cur = res.Next
		if res.Done {
			return batches
		}
		// The walk's position, for progress: moving on, never past its end.
		require.Positive(t, res.Total, "a walk under way knows its end")
		require.LessOrEqual(t, res.Walked, res.Total)
		require.GreaterOrEqual(t, res.Walked, walked, "the walk moves forward")
		walked = res.Walked
	}
}

func sum(v []int64) (n int64) {
	for _, x := range v {
		n += x
	}
	return n
}

type targetCase struct {
	target store.Target
	table  Table
	// seed returns the ids that must go and those that must stay.
	seed func(t *testing.T, e Harness) (gone, kept []int64)
}

var targetCases = []targetCase{
	{store.RefreshRevokedBefore, RefreshToken, func(t *testing.T, e Harness) ([]int64, []int64) {
		return []int64{e.RefreshToken(t, 0, cutoff.Add(-us)), e.RefreshToken(t, 0, cutoff.Add(-48*time.Hour))},
			[]int64{e.RefreshToken(t, 0, cutoff), e.RefreshToken(t, 0, cutoff.Add(us)), e.RefreshToken(t, e.AccessToken(t, far), time.Time{})}
	}},
	{store.RefreshRevokedAtOrBefore, RefreshToken, func(t *testing.T, e Harness) ([]int64, []int64) {
		return []int64{e.RefreshToken(t, 0, cutoff.Add(-us)), e.RefreshToken(t, 0, cutoff)},
			[]int64{e.RefreshToken(t, 0, cutoff.Add(us)), e.RefreshToken(t, e.AccessToken(t, far), time.Time{})}
	}},
	{store.RefreshOrphaned, RefreshToken, func(t *testing.T, e Harness) ([]int64, []int64) {
		return []int64{e.RefreshToken(t, 0, time.Time{})},
			[]int64{e.RefreshToken(t, 0, cutoff.Add(-time.Hour)), e.RefreshToken(t, e.AccessToken(t, cutoff.Add(-time.Hour)), time.Time{})}
	}},
	{store.RefreshAccessExpiredBefore, RefreshToken, func(t *testing.T, e Harness) ([]int64, []int64) {
		// DOT ≤ 3.3 does not look at revoked here.
		return []int64{e.RefreshToken(t, e.AccessToken(t, cutoff.Add(-us)), time.Time{}), e.RefreshToken(t, e.AccessToken(t, cutoff.Add(-time.Hour)), far)},
			[]int64{e.RefreshToken(t, e.AccessToken(t, cutoff), time.Time{}), e.RefreshToken(t, e.AccessToken(t, far), time.Time{}), e.RefreshToken(t, 0, time.Time{})}
	}},
	{store.RefreshLiveAccessExpiredAtOrBefore, RefreshToken, func(t *testing.T, e Harness) ([]int64, []int64) {
		return []int64{e.RefreshToken(t, e.AccessToken(t, cutoff.Add(-us)), time.Time{}), e.RefreshToken(t, e.AccessToken(t, cutoff), time.Time{})},
			[]int64{e.RefreshToken(t, e.AccessToken(t, cutoff.Add(us)), time.Time{}), e.RefreshToken(t, e.AccessToken(t, cutoff.Add(-time.Hour)), cutoff.Add(-time.Hour)), e.RefreshToken(t, 0, time.Time{})}
	}},
	{store.AccessExpiredBefore, AccessToken, func(t *testing.T, e Harness) ([]int64, []int64) {
		withID := e.AccessToken(t, cutoff.Add(-time.Hour))
		e.Link(t, AccessToken, withID, "id_token_id", e.IDToken(t, far))
		bound := e.AccessToken(t, cutoff.Add(-time.Hour))
		e.RefreshToken(t, bound, time.Time{})
		return []int64{e.AccessToken(t, cutoff.Add(-us)), withID},
			[]int64{e.AccessToken(t, cutoff), e.AccessToken(t, cutoff.Add(us)), bound}
	}},
	{store.IDTokenExpiredBefore, IDToken, func(t *testing.T, e Harness) ([]int64, []int64) {
		referenced := e.IDToken(t, cutoff.Add(-time.Hour))
		e.Link(t, AccessToken, e.AccessToken(t, far), "id_token_id", referenced)
		return []int64{e.IDToken(t, cutoff.Add(-us))},
			[]int64{referenced, e.IDToken(t, cutoff), e.IDToken(t, cutoff.Add(us))}
	}},
	{store.GrantExpiredBefore, Grant, func(t *testing.T, e Harness) ([]int64, []int64) {
		return []int64{e.Grant(t, cutoff.Add(-us)), e.Grant(t, cutoff.Add(-time.Hour))},
			[]int64{e.Grant(t, cutoff), e.Grant(t, cutoff.Add(us))}
	}},
	// DOT main: strict, as for grants.
	{store.PARExpiredBefore, PAR, func(t *testing.T, e Harness) ([]int64, []int64) {
		return []int64{e.PAR(t, cutoff.Add(-us)), e.PAR(t, cutoff.Add(-time.Hour))},
			[]int64{e.PAR(t, cutoff), e.PAR(t, cutoff.Add(us))}
	}},
}

func testTargets(t *testing.T, e Harness) {
	for _, tc := range targetCases {
		if tc.table == PAR && !e.Layout().AtLeast(DOTMain) {
			continue // no such table before DOT main
		}
		// Each case on its own rows: seed, run, and look at what is left.
		gone, kept := tc.seed(t, e)
		batches := Drain(t, e.Store(), tc.target, cutoff, 1)
		left := e.IDs(t, tc.table)
		for _, id := range gone {
			assert.NotContains(t, left, id, "%s: row %d should be deleted", tc.target, id)
		}
		for _, id := range kept {
			assert.Contains(t, left, id, "%s: row %d should stay", tc.target, id)
		}
		assert.EqualValues(t, len(gone), sum(batches), "%s: deleted count", tc.target)
		e.DeleteAllTokens(t) // a clean slate for the next case
	}
}

func testSetNull(t *testing.T, e Harness) {
	// Rotation: access token A had refresh token R1; refreshing issued B
	// (source_refresh_token = R1) and revoked R1, which let go of A.
	a := e.AccessToken(t, cutoff.Add(-2*time.Hour))
	r1 := e.RefreshToken(t, 0, cutoff.Add(-time.Hour))
	b := e.AccessToken(t, far)
	e.Link(t, AccessToken, b, "source_refresh_token_id", r1)
	r2 := e.RefreshToken(t, b, time.Time{})

	batches := Drain(t, e.Store(), store.RefreshRevokedBefore, cutoff, 10)
	assert.EqualValues(t, 1, sum(batches))
	assert.Equal(t, []int64{r2}, e.IDs(t, RefreshToken))
	assert.Equal(t, []int64{a, b}, e.IDs(t, AccessToken))
	assert.Zero(t, e.Ref(t, AccessToken, b, "source_refresh_token_id"), "SET_NULL of the deleted refresh token")
}

// Some batches of a refresh-token target have references to null and
// some have none, in any order: every matching row goes, in batches of at
// most Max, and every reference to one is nulled while the access token
// that held it stays, whether or not the batch before had references.
func testSetNullInSomeBatches(t *testing.T, e Harness) {
	const max = 2
	for _, tc := range []struct {
		target store.Target
		match  func() int64
	}{
		{store.RefreshRevokedBefore, func() int64 { return e.RefreshToken(t, 0, cutoff.Add(-time.Hour)) }},
		{store.RefreshAccessExpiredBefore, func() int64 {
			return e.RefreshToken(t, e.AccessToken(t, cutoff.Add(-time.Hour)), time.Time{})
		}},
	} {
		// Batches of two: none referenced, both, none, the second only.
		referenced := []bool{false, false, true, true, false, false, false, true}
		var sourced []int64
		for _, ref := range referenced {
			id := tc.match()
			if ref {
				a := e.AccessToken(t, far)
				e.Link(t, AccessToken, a, "source_refresh_token_id", id)
				sourced = append(sourced, a)
			}
		}
		kept := e.RefreshToken(t, e.AccessToken(t, far), time.Time{})

		batches := Drain(t, e.Store(), tc.target, cutoff, max)
		assert.EqualValues(t, len(referenced), sum(batches), "%s: deleted", tc.target)
		for _, n := range batches {
			assert.LessOrEqual(t, n, int64(max), "%s: a batch deleted more than Max", tc.target)
		}
		assert.Equal(t, []int64{kept}, e.IDs(t, RefreshToken), "%s: what stays", tc.target)
		left := e.IDs(t, AccessToken)
		for _, a := range sourced {
			assert.Contains(t, left, a, "%s: the access token issued by rotating a deleted refresh token stays", tc.target)
			assert.Zero(t, e.Ref(t, AccessToken, a, "source_refresh_token_id"), "%s: SET_NULL of the deleted refresh token", tc.target)
		}
		e.DeleteAllTokens(t)
	}
}

func testBatches(t *testing.T, e Harness) {
	var kept []int64
	for i := 0; i < 10; i++ {
		e.Grant(t, cutoff.Add(-time.Duration(i+1)*time.Minute))
		kept = append(kept, e.Grant(t, far))
	}
	batches := Drain(t, e.Store(), store.GrantExpiredBefore, cutoff, 3)
	assert.EqualValues(t, 10, sum(batches))
	for _, n := range batches {
		assert.LessOrEqual(t, n, int64(3), "a batch deleted more than Max")
	}
	assert.GreaterOrEqual(t, len(batches), 4, "10 rows in batches of 3 take at least 4 batches")
	assert.Equal(t, kept, e.IDs(t, Grant))
}

// A Max far beyond the table (a caller's math.MaxInt) is no overflow: the
// walk ends, having deleted what matches once.
func testHugeMax(t *testing.T, e Harness) {
	var kept []int64
	for i := 0; i < 5; i++ {
		e.Grant(t, cutoff.Add(-time.Hour))
		kept = append(kept, e.Grant(t, far))
	}
	assert.EqualValues(t, 5, sum(Drain(t, e.Store(), store.GrantExpiredBefore, cutoff, math.MaxInt)))
	assert.Equal(t, kept, e.IDs(t, Grant))
}

// Batches fill up whatever the spread: where one row in five matches, each
// batch but the last still takes Max rows (a walk in windows of Max
// consecutive ids would take about Max/5), and none takes more.
func testBatchesFill(t *testing.T, e Harness) {
	const matches, max = 40, 6
	cases := []struct {
		target store.Target
		table  Table
		row    func(match bool) int64
	}{
		{store.GrantExpiredBefore, Grant, func(match bool) int64 {
			if match {
				return e.Grant(t, cutoff.Add(-time.Hour))
			}
			return e.Grant(t, far)
		}},
		{store.AccessExpiredBefore, AccessToken, func(match bool) int64 {
			if match {
				return e.AccessToken(t, cutoff.Add(-time.Hour))
			}
			return e.AccessToken(t, far)
		}},
		{store.RefreshRevokedBefore, RefreshToken, func(match bool) int64 {
			if match {
				return e.RefreshToken(t, 0, cutoff.Add(-time.Hour))
			}
			return e.RefreshToken(t, e.AccessToken(t, far), time.Time{})
		}},
	}
	for _, tc := range cases {
		var kept []int64
		for i := 0; i < matches*5; i++ {
			if id := tc.row(i%5 == 0); i%5 != 0 {
				kept = append(kept, id)
			}
		}
		batches := Drain(t, e.Store(), tc.target, cutoff, max)
		assert.EqualValues(t, matches, sum(batches), "%s: deleted", tc.target)
		full := matches / max
		require.GreaterOrEqual(t, len(batches), full+1, "%s: batches %v", tc.target, batches)
		for i, n := range batches {
			assert.LessOrEqual(t, n, int64(max), "%s: batch %d of %v took more than Max", tc.target, i, batches)
			if i < full {
				assert.EqualValues(t, max, n, "%s: batch %d of %v is not full", tc.target, i, batches)
			}
		}
		assert.Equal(t, kept, e.IDs(t, tc.table), "%s: rows left", tc.target)
		e.DeleteAllTokens(t)
	}
}
