// Package storetest is the conformance suite every store.Store
// implementation runs. It imports nothing of oauthkit but package store:
// an implementation supplies a Harness (a fresh database holding the
// tables of a real django-oauth-toolkit deployment, with ways to seed and
// inspect rows), and Run drives the Store through it. Package
// store/sqlstore/sqlstoretest is the harness of oauthkit's own stores.
package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
)

// Layout is the DOT version whose migrations made a database's tables.
type Layout string

const (
	// DOT301 is the layout of DOT 3.0 – 3.3 (migrations 0001–0012).
	DOT301 Layout = "3.0.1"
	// DOT341 is the layout of DOT 3.4.1 (migrations 0001–0022).
	DOT341 Layout = "3.4.1"
)

// Layouts are both DOT generations in use.
var Layouts = []Layout{DOT301, DOT341}

// Table names a token table by its role: "accesstoken", "refreshtoken",
// "idtoken" or "grant" (DOT's model names).
type Table string

const (
	AccessToken  Table = "accesstoken"
	RefreshToken Table = "refreshtoken"
	IDToken      Table = "idtoken"
	Grant        Table = "grant"
)

// TokenTables are the tables cleartokens cleans.
var TokenTables = []Table{AccessToken, RefreshToken, IDToken, Grant}

// Harness is one fresh database of one layout, with DOT's default table
// names, as an implementation of store.Store sees it, plus what the suite
// needs to seed and inspect rows without going through the Store. A
// helper fails the test (t.Fatal) when the database refuses.
type Harness interface {
	// Store is the store under test, on this database.
	Store() store.Store
	// Layout is the DOT layout the database was made with.
	Layout() Layout

	// AccessToken inserts an access token expiring at expires and returns its id.
	AccessToken(t testing.TB, expires time.Time) int64
	// RefreshToken inserts a refresh token bound to accessToken (0: none),
	// revoked at revoked (zero: not revoked).
	RefreshToken(t testing.TB, accessToken int64, revoked time.Time) int64
	// IDToken inserts an ID token expiring at expires.
	IDToken(t testing.TB, expires time.Time) int64
	// Grant inserts an authorization code expiring at expires.
	Grant(t testing.TB, expires time.Time) int64
	// Link sets a foreign-key column of one row to value (0: NULL), e.g.
	// Link(t, AccessToken, id, "id_token_id", idt).
	Link(t testing.TB, table Table, id int64, column string, value int64)
	// Ref reads a foreign-key column of one row (0 when NULL).
	Ref(t testing.TB, table Table, id int64, column string) int64
	// IDs lists the ids left in a table, ascending.
	IDs(t testing.TB, table Table) []int64
	// DeleteAllTokens empties the four token tables.
	DeleteAllTokens(t testing.TB)
	// DropTable drops the table of a role as store.Tables.Named names it
	// ("grant", "migrations", …).
	DropTable(t testing.TB, role string)
	// MarkMigrated records oauth2_provider migrations in django_migrations.
	MarkMigrated(t testing.TB, names ...string)
}

// Opener makes a fresh database of one layout for one test.
type Opener func(t *testing.T, l Layout) Harness

// Run runs the suite on every DOT layout.
func Run(t *testing.T, open Opener) {
	for _, l := range Layouts {
		t.Run("dot-"+string(l), func(t *testing.T) {
			t.Parallel()
			for name, fn := range map[string]func(*testing.T, Harness){
				"Targets":           testTargets,
				"SetNullOnRefresh":  testSetNull,
				"BatchesAreBounded": testBatches,
				"CheckSchema":       testCheckSchema,
				"Migrations":        testMigrations,
				"Lock":              testLock,
				"WritableNoReplica": testWritable,
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
	table  Table
	// seed returns the ids that must go and those that must stay.
	seed func(t *testing.T, e Harness) (gone, kept []int64)
}

var far = cutoff.Add(24 * time.Hour)

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
}

func testTargets(t *testing.T, e Harness) {
	for _, tc := range targetCases {
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

func testCheckSchema(t *testing.T, e Harness) {
	require.NoError(t, e.Store().CheckSchema(context.Background()))
	e.DropTable(t, "grant")
	err := e.Store().CheckSchema(context.Background())
	require.Error(t, err)
	assert.True(t, errors.Is(err, store.ErrMissingTable))
	assert.Contains(t, err.Error(), "oauth2_provider_grant")
}

func testMigrations(t *testing.T, e Harness) {
	m, err := e.Store().AppliedMigrations(context.Background(), store.AppliedMigrationsParams{App: "oauth2_provider"})
	require.NoError(t, err)
	assert.True(t, m.LedgerExists)
	assert.Empty(t, m.Names)
	e.MarkMigrated(t, "0001_initial", "0012_add_token_checksum")
	m, err = e.Store().AppliedMigrations(context.Background(), store.AppliedMigrationsParams{App: "oauth2_provider"})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"0001_initial", "0012_add_token_checksum"}, m.Names)
	e.DropTable(t, "migrations")
	m, err = e.Store().AppliedMigrations(context.Background(), store.AppliedMigrationsParams{App: "oauth2_provider"})
	require.NoError(t, err)
	assert.False(t, m.LedgerExists)
}

func testLock(t *testing.T, e Harness) {
	ctx := context.Background()
	held, err := e.Store().Lock(ctx, store.LockParams{Name: "cleartokens"})
	require.NoError(t, err)

	_, err = e.Store().Lock(ctx, store.LockParams{Name: "cleartokens"})
	assert.True(t, errors.Is(err, store.ErrLocked), "a second taker is refused: %v", err)

	other, err := e.Store().Lock(ctx, store.LockParams{Name: "something-else"})
	require.NoError(t, err, "another lock name is another lock")
	require.NoError(t, other.Unlock())

	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	_, err = e.Store().Lock(short, store.LockParams{Name: "cleartokens", Wait: true})
	require.Error(t, err, "waiting ends with the context")
	assert.False(t, errors.Is(err, store.ErrLocked))

	got := make(chan error, 1)
	go func() {
		l, err := e.Store().Lock(ctx, store.LockParams{Name: "cleartokens", Wait: true})
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

// A fresh test database takes writes and has no standby attached.
func testWritable(t *testing.T, e Harness) {
	ctx := context.Background()
	require.NoError(t, e.Store().CheckWritable(ctx))
	reps, err := e.Store().Replicas(ctx)
	require.NoError(t, err)
	assert.Empty(t, reps)
}
