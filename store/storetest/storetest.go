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
	"slices"
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
	// DOTMain is the layout of DOT's main branch after 3.4.1 (commit
	// 0f9d49f4, not released yet; migrations 0001–0025): three NOT NULL
	// client-assertion columns and a PAR flag on the application table,
	// and the pushed-authorization-request table.
	DOTMain Layout = "main"
)

// Layouts are the DOT generations served, oldest first.
var Layouts = []Layout{DOT301, DOT341, DOTMain}

// AtLeast reports whether layout l has everything layout o has (it is o
// or newer).
func (l Layout) AtLeast(o Layout) bool {
	return slices.Index(Layouts, l) >= slices.Index(Layouts, o)
}

// Table names a token table by its role: "accesstoken", "refreshtoken",
// "idtoken" or "grant" (DOT's model names).
type Table string

const (
	AccessToken  Table = "accesstoken"
	RefreshToken Table = "refreshtoken"
	IDToken      Table = "idtoken"
	Grant        Table = "grant"
	Application  Table = "application"
	// PAR is DOT main's pushed-authorization-request table.
	PAR Table = "pushedauthorizationrequest"
)

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
	// PAR inserts a pushed authorization request expiring at expires
	// (DOTMain layout only).
	PAR(t testing.TB, expires time.Time) int64
	// Link sets a foreign-key column of one row to value (0: NULL), e.g.
	// Link(t, AccessToken, id, "id_token_id", idt).
	Link(t testing.TB, table Table, id int64, column string, value int64)
	// Ref reads a foreign-key column of one row (0 when NULL).
	Ref(t testing.TB, table Table, id int64, column string) int64
	// IDs lists the ids left in a table, ascending.
	IDs(t testing.TB, table Table) []int64
	// DeleteAllTokens empties the four token tables (and the PAR table
	// where there is one).
	DeleteAllTokens(t testing.TB)
	// DropTable drops the table of a role as store.Tables.Named names it
	// ("grant", "migrations", …).
	DropTable(t testing.TB, role string)
	// MarkMigrated records oauth2_provider migrations in django_migrations.
	MarkMigrated(t testing.TB, names ...string)
	// Application inserts an application; with cimd (DOT 3.4.1 layout
	// only) registered from a Client ID Metadata Document whose cache
	// expires at cimdExpires (zero: NULL).
	Application(t testing.TB, cimd bool, cimdExpires time.Time) int64
	// ForApplication is the same database, with the token and grant
	// helpers making rows of application app.
	ForApplication(t testing.TB, app int64) Harness
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
				"CIMDCascade":       testCIMDCascade,
				"CIMDBatchOrder":    testCIMDBatchOrder,
				"HasTable":          testHasTable,
				"Applications":      testApplications,
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

// PruneCIMD runs PruneCIMDApplications batch after batch to the end and
// returns the applications deleted.
func PruneCIMD(t *testing.T, s store.Store, now time.Time, max int, dry bool) int64 {
	t.Helper()
	var after, deleted int64
	var gone []int64
	for i := 0; ; i++ {
		require.Less(t, i, 10000, "walk does not end")
		res, err := s.PruneCIMDApplications(context.Background(), store.PruneCIMDParams{Now: now, After: after, Max: max, DryRun: dry, Gone: gone})
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
		_, err := e.Store().PruneCIMDApplications(context.Background(), store.PruneCIMDParams{Now: now, Max: 10})
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

	res, err := e.Store().PruneCIMDApplications(context.Background(), store.PruneCIMDParams{Now: now, Max: 100})
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

// The pushed-authorization-request table tells DOT main from a release;
// the required tables are there on every layout.
func testHasTable(t *testing.T, e Harness) {
	ctx := context.Background()
	has, err := e.Store().HasTable(ctx, store.HasTableParams{Role: store.RolePAR})
	require.NoError(t, err)
	assert.Equal(t, e.Layout().AtLeast(DOTMain), has, "PAR table on layout %s", e.Layout())
	has, err = e.Store().HasTable(ctx, store.HasTableParams{Role: "grant"})
	require.NoError(t, err)
	assert.True(t, has)
	_, err = e.Store().HasTable(ctx, store.HasTableParams{Role: "nonsense"})
	assert.Error(t, err)
	e.DropTable(t, "grant")
	has, err = e.Store().HasTable(ctx, store.HasTableParams{Role: "grant"})
	require.NoError(t, err)
	assert.False(t, has)
}

// An application written by InsertApplication reads back the same, on
// every layout (each layout's NOT NULL columns filled with DOT's model
// defaults), and a second one with its client_id is refused.
func testApplications(t *testing.T, e Harness) {
	ctx := context.Background()
	cols, err := e.Store().ApplicationColumns(ctx)
	require.NoError(t, err)
	assert.Equal(t, e.Layout().AtLeast(DOT341), cols.Has("registration_source"))
	assert.Equal(t, e.Layout().AtLeast(DOTMain), cols.Has("client_jwks"))
	created := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	a := store.Application{ClientID: "conformance-app", RedirectURIs: "https://a.example/cb", ClientType: "confidential",
		AuthorizationGrantType: "authorization-code", ClientSecret: "pbkdf2_sha256$1$salt$x", HashClientSecret: true,
		Name: "Conformance", Created: created, Updated: created}
	id, err := e.Store().InsertApplication(ctx, store.InsertApplicationParams{Application: a})
	require.NoError(t, err)
	got, err := e.Store().GetApplication(ctx, "conformance-app")
	require.NoError(t, err)
	require.NotNil(t, got)
	a.ID, got.Created, got.Updated, a.Created, a.Updated = id, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	assert.Equal(t, a, *got)
	_, err = e.Store().InsertApplication(ctx, store.InsertApplicationParams{Application: a})
	assert.True(t, errors.Is(err, store.ErrDuplicateClientID), "%v", err)
	missing, err := e.Store().GetApplication(ctx, "no-such-app")
	require.NoError(t, err)
	assert.Nil(t, missing)
}
