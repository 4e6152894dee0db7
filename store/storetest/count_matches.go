package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
)

// CountMatches counts what DeleteBatch then deletes, for every target,
// and deletes nothing.
func testCountMatches(t *testing.T, e Harness) {
	ctx := context.Background()
	for _, tc := range targetCases {
		if tc.table == PAR && !e.Layout().AtLeast(DOTMain) {
			continue
		}
		gone, _ := tc.seed(t, e)
		before := e.IDs(t, tc.table)
		n, err := e.Store().CountMatches(ctx, store.CountMatchesParams{Step: store.Step{Target: tc.target, Cutoff: cutoff}})
		require.NoError(t, err)
		assert.EqualValues(t, len(gone), n, "%s", tc.target)
		assert.Equal(t, before, e.IDs(t, tc.table), "%s: a count deletes nothing", tc.target)
		assert.EqualValues(t, n, sum(Drain(t, e.Store(), tc.target, cutoff, 2)), "%s: the count is what a walk deletes", tc.target)
		e.DeleteAllTokens(t)
	}
}

// With Earlier steps, a count sees the rows they would delete as gone: an
// access token whose refresh token an earlier step deletes is no longer
// held, and neither is the ID token of an access token deleted before.
func testCountMatchesEarlier(t *testing.T, e Harness) {
	ctx := context.Background()
	at := e.AccessToken(t, cutoff.Add(-time.Hour))
	e.RefreshToken(t, at, cutoff.Add(-2*time.Hour)) // revoked: an earlier step takes it
	idt := e.IDToken(t, cutoff.Add(-time.Hour))
	e.Link(t, AccessToken, at, "id_token_id", idt)
	revoked := store.Step{Target: store.RefreshRevokedBefore, Cutoff: cutoff}
	access := store.Step{Target: store.AccessExpiredBefore, Cutoff: cutoff}
	idtokens := store.Step{Target: store.IDTokenExpiredBefore, Cutoff: cutoff}
	count := func(s store.Step, earlier ...store.Step) int64 {
		n, err := e.Store().CountMatches(ctx, store.CountMatchesParams{Step: s, Earlier: earlier})
		require.NoError(t, err)
		return n
	}
	assert.EqualValues(t, 0, count(access), "held by its refresh token")
	assert.EqualValues(t, 1, count(access, revoked), "its refresh token goes first")
	assert.EqualValues(t, 0, count(idtokens, revoked), "held by its access token")
	assert.EqualValues(t, 1, count(idtokens, revoked, access), "its access token goes first")
}
