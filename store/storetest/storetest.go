// Package storetest is the conformance suite every store.Store
// implementation runs, against the real DOT schemas of shared/reference.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/testdb"
	"github.com/oauthkit/oauthkit/store"
)

// Opener makes a fresh database of one layout for one test.
type Opener func(t *testing.T, l testdb.Layout) *testdb.Env

// Run runs the suite on every DOT layout.
func Run(t *testing.T, open Opener) {
	for _, l := range testdb.Layouts {
		t.Run("dot-"+string(l), func(t *testing.T) {
			t.Parallel()
			for name, fn := range map[string]func(*testing.T, *testdb.Env){
				"Targets":           testTargets,
				"SetNullOnRefresh":  testSetNull,
				"BatchesAreBounded": testBatches,
				"CheckSchema":       testCheckSchema,
				"Migrations":        testMigrations,
				"Lock":              testLock,
			} {
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					fn(t, open(t, l))
				})
			}
		})
	}
}

// Drain calls DeleteBatch until the walk is done and returns the rows
// deleted by each batch.
func Drain(t *testing.T, s store.Store, target store.Target, cutoff time.Time, max int) []int64 {
	t.Helper()
	var cur store.Cursor
	var batches []int64
	for i := 0; ; i++ {
		require.Less(t, i, 10000, "walk does not end")
		res, err := s.DeleteBatch(context.Background(), store.DeleteBatchParams{Target: target, Cutoff: cutoff, Max: max, After: cur})
		require.NoError(t, err)
		batches = append(batches, res.Deleted)
		cur = res.Next
		if res.Done {
			return batches
		}
	}
}

func sum(v []int64) (n int64) {
	for _, x := range v {
		n += x
	}
	return n
}

// cutoff has no fraction, so SQLite's text form has none either, and the
// rows around it test the text comparison Django relies on.
var cutoff = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

const us = time.Microsecond

type targetCase struct {
	target store.Target
	table  string
	// seed returns the ids that must go and those that must stay.
	seed func(t *testing.T, e *testdb.Env) (gone, kept []int64)
}

var far = cutoff.Add(24 * time.Hour)

var targetCases = []targetCase{
	{store.RefreshRevokedBefore, "refreshtoken", func(t *testing.T, e *testdb.Env) ([]int64, []int64) {
		return []int64{e.RefreshToken(t, 0, cutoff.Add(-us)), e.RefreshToken(t, 0, cutoff.Add(-48*time.Hour))},
			[]int64{e.RefreshToken(t, 0, cutoff), e.RefreshToken(t, 0, cutoff.Add(us)), e.RefreshToken(t, e.AccessToken(t, far), time.Time{})}
	}},
	{store.RefreshRevokedAtOrBefore, "refreshtoken", func(t *testing.T, e *testdb.Env) ([]int64, []int64) {
		return []int64{e.RefreshToken(t, 0, cutoff.Add(-us)), e.RefreshToken(t, 0, cutoff)},
			[]int64{e.RefreshToken(t, 0, cutoff.Add(us)), e.RefreshToken(t, e.AccessToken(t, far), time.Time{})}
	}},
	{store.RefreshOrphaned, "refreshtoken", func(t *testing.T, e *testdb.Env) ([]int64, []int64) {
		return []int64{e.RefreshToken(t, 0, time.Time{})},
			[]int64{e.RefreshToken(t, 0, cutoff.Add(-time.Hour)), e.RefreshToken(t, e.AccessToken(t, cutoff.Add(-time.Hour)), time.Time{})}
	}},
	{store.RefreshAccessExpiredBefore, "refreshtoken", func(t *testing.T, e *testdb.Env) ([]int64, []int64) {
		// DOT ≤ 3.3 does not look at revoked here.
		return []int64{e.RefreshToken(t, e.AccessToken(t, cutoff.Add(-us)), time.Time{}), e.RefreshToken(t, e.AccessToken(t, cutoff.Add(-time.Hour)), far)},
			[]int64{e.RefreshToken(t, e.AccessToken(t, cutoff), time.Time{}), e.RefreshToken(t, e.AccessToken(t, far), time.Time{}), e.RefreshToken(t, 0, time.Time{})}
	}},
	{store.RefreshLiveAccessExpiredAtOrBefore, "refreshtoken", func(t *testing.T, e *testdb.Env) ([]int64, []int64) {
		return []int64{e.RefreshToken(t, e.AccessToken(t, cutoff.Add(-us)), time.Time{}), e.RefreshToken(t, e.AccessToken(t, cutoff), time.Time{})},
			[]int64{e.RefreshToken(t, e.AccessToken(t, cutoff.Add(us)), time.Time{}), e.RefreshToken(t, e.AccessToken(t, cutoff.Add(-time.Hour)), cutoff.Add(-time.Hour)), e.RefreshToken(t, 0, time.Time{})}
	}},
	{store.AccessExpiredBefore, "accesstoken", func(t *testing.T, e *testdb.Env) ([]int64, []int64) {
		withID := e.AccessToken(t, cutoff.Add(-time.Hour))
		e.Link(t, "accesstoken", withID, "id_token_id", e.IDToken(t, far))
		bound := e.AccessToken(t, cutoff.Add(-time.Hour))
		e.RefreshToken(t, bound, time.Time{})
		return []int64{e.AccessToken(t, cutoff.Add(-us)), withID},
			[]int64{e.AccessToken(t, cutoff), e.AccessToken(t, cutoff.Add(us)), bound}
	}},
	{store.IDTokenExpiredBefore, "idtoken", func(t *testing.T, e *testdb.Env) ([]int64, []int64) {
		referenced := e.IDToken(t, cutoff.Add(-time.Hour))
		e.Link(t, "accesstoken", e.AccessToken(t, far), "id_token_id", referenced)
		return []int64{e.IDToken(t, cutoff.Add(-us))},
			[]int64{referenced, e.IDToken(t, cutoff), e.IDToken(t, cutoff.Add(us))}
	}},
	{store.GrantExpiredBefore, "grant", func(t *testing.T, e *testdb.Env) ([]int64, []int64) {
		return []int64{e.Grant(t, cutoff.Add(-us)), e.Grant(t, cutoff.Add(-time.Hour))},
			[]int64{e.Grant(t, cutoff), e.Grant(t, cutoff.Add(us))}
	}},
}

func testTargets(t *testing.T, e *testdb.Env) {
	for _, tc := range targetCases {
		// Each case on its own rows: seed, run, and compare what is left
		// with what was there before.
		before := map[string][]int64{}
		for _, tbl := range []string{"refreshtoken", "accesstoken", "idtoken", "grant"} {
			before[tbl] = e.IDs(t, tbl)
		}
		gone, kept := tc.seed(t, e)
		batches := Drain(t, e.Store, tc.target, cutoff, 1)
		left := e.IDs(t, tc.table)
		for _, id := range gone {
			assert.NotContains(t, left, id, "%s: row %d should be deleted", tc.target, id)
		}
		for _, id := range kept {
			assert.Contains(t, left, id, "%s: row %d should stay", tc.target, id)
		}
		assert.EqualValues(t, len(gone), sum(batches), "%s: deleted count", tc.target)
		// Clean the slate for the next case.
		e.Exec(t, `UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = NULL, id_token_id = NULL`)
		e.Exec(t, `DELETE FROM oauth2_provider_refreshtoken`)
		e.Exec(t, `DELETE FROM oauth2_provider_accesstoken`)
		e.Exec(t, `DELETE FROM oauth2_provider_idtoken`)
		e.Exec(t, `DELETE FROM oauth2_provider_grant`)
	}
}

func testSetNull(t *testing.T, e *testdb.Env) {
	// Rotation: access token A had refresh token R1; refreshing issued B
	// (source_refresh_token = R1) and revoked R1, which let go of A.
	a := e.AccessToken(t, cutoff.Add(-2*time.Hour))
	r1 := e.RefreshToken(t, 0, cutoff.Add(-time.Hour))
	b := e.AccessToken(t, far)
	e.Link(t, "accesstoken", b, "source_refresh_token_id", r1)
	r2 := e.RefreshToken(t, b, time.Time{})

	if e.Dialect == "postgres" {
		// The foreign key is live and deferred: deleting R1 without the
		// SET_NULL fails at COMMIT, not at the DELETE.
		tx := e.DB.MustBegin()
		_, err := tx.Exec(`DELETE FROM oauth2_provider_refreshtoken WHERE id = $1`, r1)
		require.NoError(t, err, "deferred: the DELETE itself passes")
		require.Error(t, tx.Commit(), "COMMIT must fail on the dangling source_refresh_token_id")
	}

	batches := Drain(t, e.Store, store.RefreshRevokedBefore, cutoff, 10)
	assert.EqualValues(t, 1, sum(batches))
	assert.Equal(t, []int64{r2}, e.IDs(t, "refreshtoken"))
	assert.Equal(t, []int64{a, b}, e.IDs(t, "accesstoken"))
	assert.Zero(t, e.Int(t, `SELECT source_refresh_token_id FROM oauth2_provider_accesstoken WHERE id = ?`, b))
}

func testBatches(t *testing.T, e *testdb.Env) {
	var kept []int64
	for i := 0; i < 10; i++ {
		e.Grant(t, cutoff.Add(-time.Duration(i+1)*time.Minute))
		kept = append(kept, e.Grant(t, far))
	}
	batches := Drain(t, e.Store, store.GrantExpiredBefore, cutoff, 3)
	assert.EqualValues(t, 10, sum(batches))
	for _, n := range batches {
		assert.LessOrEqual(t, n, int64(3), "a batch deleted more than Max")
	}
	assert.GreaterOrEqual(t, len(batches), 4, "10 rows in batches of 3 take at least 4 batches")
	assert.Equal(t, kept, e.IDs(t, "grant"))
}

func testCheckSchema(t *testing.T, e *testdb.Env) {
	require.NoError(t, e.Store.CheckSchema(context.Background()))
	e.Exec(t, `DROP TABLE oauth2_provider_grant`)
	err := e.Store.CheckSchema(context.Background())
	require.Error(t, err)
	assert.True(t, errors.Is(err, store.ErrMissingTable))
	assert.Contains(t, err.Error(), "oauth2_provider_grant")
}

func testMigrations(t *testing.T, e *testdb.Env) {
	m, err := e.Store.AppliedMigrations(context.Background(), store.AppliedMigrationsParams{App: "oauth2_provider"})
	require.NoError(t, err)
	assert.True(t, m.LedgerExists)
	assert.Empty(t, m.Names)
	e.MarkMigrated(t, "0001_initial", "0012_add_token_checksum")
	m, err = e.Store.AppliedMigrations(context.Background(), store.AppliedMigrationsParams{App: "oauth2_provider"})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"0001_initial", "0012_add_token_checksum"}, m.Names)
	e.Exec(t, `DROP TABLE django_migrations`)
	m, err = e.Store.AppliedMigrations(context.Background(), store.AppliedMigrationsParams{App: "oauth2_provider"})
	require.NoError(t, err)
	assert.False(t, m.LedgerExists)
}

func testLock(t *testing.T, e *testdb.Env) {
	ctx := context.Background()
	held, err := e.Store.Lock(ctx, store.LockParams{Name: "cleartokens"})
	require.NoError(t, err)

	_, err = e.Store.Lock(ctx, store.LockParams{Name: "cleartokens"})
	assert.True(t, errors.Is(err, store.ErrLocked), "a second taker is refused: %v", err)

	other, err := e.Store.Lock(ctx, store.LockParams{Name: "something-else"})
	require.NoError(t, err, "another lock name is another lock")
	require.NoError(t, other.Unlock())

	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	_, err = e.Store.Lock(short, store.LockParams{Name: "cleartokens", Wait: true})
	require.Error(t, err, "waiting ends with the context")
	assert.False(t, errors.Is(err, store.ErrLocked))

	got := make(chan error, 1)
	go func() {
		l, err := e.Store.Lock(ctx, store.LockParams{Name: "cleartokens", Wait: true})
		if err == nil {
			err = l.Unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the waiter got the lock while it was held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, held.Unlock())
	select {
	case err := <-got:
		require.NoError(t, err, "the waiter gets the lock once it is released")
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter never got the lock")
	}
}
