package cleanup_test

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

var T = time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)

// world is a small DOT database with one row of every interesting kind.
type world struct {
	env *sqlstoretest.Env
	ids map[string]int64
}

func seed(t *testing.T, e *sqlstoretest.Env) *world {
	w := &world{env: e, ids: map[string]int64{}}
	id := func(name string, v int64) int64 { w.ids[name] = v; return v }
	none := time.Time{}

	at1 := id("at1", e.AccessToken(t, T.Add(-time.Hour))) // expired, no refresh token
	at2 := id("at2", e.AccessToken(t, T.Add(time.Hour)))  // live
	at3 := id("at3", e.AccessToken(t, T.Add(-48*time.Hour)))
	id("rt3", e.RefreshToken(t, at3, none)) // live refresh token, access token long expired
	at4 := id("at4", e.AccessToken(t, T.Add(-time.Hour)))
	id("rt4", e.RefreshToken(t, at4, none)) // live refresh token, access token recently expired
	id("rt5", e.RefreshToken(t, 0, T.Add(-48*time.Hour)))
	id("rt6", e.RefreshToken(t, 0, T.Add(-time.Hour)))
	id("rt7", e.RefreshToken(t, 0, none)) // orphan
	// Rotation: A's refresh token R1 was used: B was issued with
	// source_refresh_token = R1, and R1 was revoked (letting go of A).
	id("atA", e.AccessToken(t, T.Add(-48*time.Hour)))
	r1 := id("r1", e.RefreshToken(t, 0, T.Add(-48*time.Hour)))
	atB := id("atB", e.AccessToken(t, T.Add(time.Hour)))
	e.Link(t, "accesstoken", atB, "source_refresh_token_id", r1)
	id("r2", e.RefreshToken(t, atB, none))
	// ID tokens: unreferenced expired, referenced by a live access token,
	// referenced by an expired one (freed by the access token step), live.
	id("idt1", e.IDToken(t, T.Add(-time.Hour)))
	idt2 := id("idt2", e.IDToken(t, T.Add(-time.Hour)))
	e.Link(t, "accesstoken", at2, "id_token_id", idt2)
	idt3 := id("idt3", e.IDToken(t, T.Add(-time.Hour)))
	e.Link(t, "accesstoken", at1, "id_token_id", idt3)
	id("idt4", e.IDToken(t, T.Add(time.Hour)))
	id("g1", e.Grant(t, T.Add(-time.Second)))
	id("g2", e.Grant(t, T.Add(time.Second)))
	if e.Layout.AtLeast(sqlstoretest.DOTMain) {
		// Pushed authorization requests: expired a moment ago, expiring
		// exactly now (kept: DOT's comparison is strict), live.
		id("par1", e.PAR(t, T.Add(-time.Microsecond)))
		id("par2", e.PAR(t, T))
		id("par3", e.PAR(t, T.Add(time.Minute)))
	}
	return w
}

// withPAR adds what DOT main's last step does to the seeded world of a
// test's expectations, on a layout that has the table.
func withPAR(e *sqlstoretest.Env, counts map[string]int64, left []string) (map[string]int64, []string) {
	if !e.Layout.AtLeast(sqlstoretest.DOTMain) {
		return counts, left
	}
	c := maps.Clone(counts)
	c[cleanup.StepExpiredPAR] = 1
	return c, names(append(slices.Clone(left), "par2", "par3")...)
}

// left names the seeded rows still present.
func (w *world) left(t *testing.T) []string {
	present := map[int64]bool{}
	var names []string
	for _, tbl := range w.env.CleanedTables() {
		clear(present)
		for _, id := range w.env.IDs(t, tbl) {
			present[id] = true
		}
		for name, id := range w.ids {
			if prefixOf(name) == tbl && present[id] {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	return names
}

func prefixOf(name string) string {
	switch {
	case strings.HasPrefix(name, "par"):
		return "pushedauthorizationrequest"
	case strings.HasPrefix(name, "at"):
		return "accesstoken"
	case strings.HasPrefix(name, "r"):
		return "refreshtoken"
	case strings.HasPrefix(name, "idt"):
		return "idtoken"
	default:
		return "grant"
	}
}

func counts(r cleanup.Report) map[string]int64 {
	m := map[string]int64{}
	for _, s := range r.Steps {
		if !s.Skipped {
			m[s.Name] = s.Deleted
		}
	}
	return m
}

func names(v ...string) []string { sort.Strings(v); return v }

func TestRules(t *testing.T) {
	cases := []struct {
		name   string
		opts   cleanup.Options
		counts map[string]int64
		left   []string
		warn   bool
	}{
		{"dot-3.3 with expiry", cleanup.Options{Rules: cleanup.RulesDOT33, RefreshTokenExpire: 24 * time.Hour},
			map[string]int64{"revoked_refresh_tokens": 2, "expired_refresh_tokens": 1, "expired_access_tokens": 3, "expired_id_tokens": 2, "expired_grants": 1},
			names("at2", "at4", "atB", "rt4", "rt6", "rt7", "r2", "idt2", "idt4", "g2"), false},
		{"dot-3.3 without expiry", cleanup.Options{Rules: cleanup.RulesDOT33},
			map[string]int64{"expired_access_tokens": 2, "expired_id_tokens": 2, "expired_grants": 1},
			names("at2", "at3", "at4", "atB", "rt3", "rt4", "rt5", "rt6", "rt7", "r1", "r2", "idt2", "idt4", "g2"), false},
		{"dot-3.4 with expiry", cleanup.Options{Rules: cleanup.RulesDOT34, RefreshTokenExpire: 24 * time.Hour},
			map[string]int64{"revoked_refresh_tokens": 3, "orphaned_refresh_tokens": 1, "expired_refresh_tokens": 1, "expired_access_tokens": 3, "expired_id_tokens": 2, "expired_grants": 1},
			names("at2", "at4", "atB", "rt4", "r2", "idt2", "idt4", "g2"), false},
		{"dot-3.4 grace period", cleanup.Options{Rules: cleanup.RulesDOT34, RefreshTokenExpire: 24 * time.Hour, RefreshTokenGracePeriod: 2 * time.Hour},
			map[string]int64{"revoked_refresh_tokens": 2, "orphaned_refresh_tokens": 1, "expired_refresh_tokens": 1, "expired_access_tokens": 3, "expired_id_tokens": 2, "expired_grants": 1},
			names("at2", "at4", "atB", "rt4", "rt6", "r2", "idt2", "idt4", "g2"), false},
		{"dot-3.4 reuse protection", cleanup.Options{Rules: cleanup.RulesDOT34, RefreshTokenExpire: 24 * time.Hour, RefreshTokenReuseProtection: true},
			map[string]int64{"revoked_refresh_tokens": 2, "orphaned_refresh_tokens": 1, "expired_refresh_tokens": 1, "expired_access_tokens": 3, "expired_id_tokens": 2, "expired_grants": 1},
			names("at2", "at4", "atB", "rt4", "rt6", "r2", "idt2", "idt4", "g2"), false},
		{"dot-3.4 reuse protection without expiry", cleanup.Options{Rules: cleanup.RulesDOT34, RefreshTokenReuseProtection: true},
			map[string]int64{"orphaned_refresh_tokens": 1, "expired_access_tokens": 2, "expired_id_tokens": 2, "expired_grants": 1},
			names("at2", "at3", "at4", "atB", "rt3", "rt4", "rt5", "rt6", "r1", "r2", "idt2", "idt4", "g2"), true},
		{"dot-3.4 without expiry", cleanup.Options{Rules: cleanup.RulesDOT34},
			map[string]int64{"revoked_refresh_tokens": 3, "orphaned_refresh_tokens": 1, "expired_access_tokens": 2, "expired_id_tokens": 2, "expired_grants": 1},
			names("at2", "at3", "at4", "atB", "rt3", "rt4", "r2", "idt2", "idt4", "g2"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
				w := seed(t, e)
				opts := tc.opts
				opts.Store, opts.Now, opts.BatchSize = e.Store, T, 2
				rep, err := cleanup.Clear(context.Background(), opts)
				require.NoError(t, err)
				wantCounts, wantLeft := withPAR(e, tc.counts, tc.left)
				assert.Equal(t, wantCounts, counts(rep))
				assert.Equal(t, wantLeft, w.left(t))
				assert.Equal(t, tc.warn, len(rep.Warnings) > 0, "warning: %v", rep.Warnings)
				e.AssertNoDanglingKeys(t)
			})
		})
	}
}

func TestAutoRules(t *testing.T) {
	cases := []struct {
		name       string
		migrations []string
		dropLedger bool
		want       cleanup.Rules
	}{
		{"DOT 3.0.1", []string{"0001_initial", "0011_refreshtoken_token_family", "0012_add_token_checksum"}, false, cleanup.RulesDOT33},
		{"DOT 3.3", []string{"0012_add_token_checksum", "0013_alter_application_authorization_grant_type_device", "0014_alter_help_text"}, false, cleanup.RulesDOT33},
		{"DOT 3.4.0", []string{"0014_alter_help_text", "0015_refreshtoken_token_checksum"}, false, cleanup.RulesDOT34},
		{"DOT 3.4.1", []string{"0021_translatable_field_labels", "0022_refreshtoken_token_family_index", "0009_add_hash_client_secret"}, false, cleanup.RulesDOT34},
		{"DOT main", []string{"0022_refreshtoken_token_family_index", "0023_refreshtoken_unique_token_checksum", "0024_application_client_assertion_fields", "0025_pushed_authorization_requests"}, false, cleanup.RulesDOT34},
		{"empty ledger", nil, false, cleanup.RulesDOT34},
		{"no ledger", nil, true, cleanup.RulesDOT34},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
				w := seed(t, e)
				e.MarkMigrated(t, tc.migrations...)
				e.Exec(t, `INSERT INTO django_migrations (app, name, applied) VALUES ('auth', '0099_unrelated', ?)`, e.Time(T))
				if tc.dropLedger {
					e.Exec(t, `DROP TABLE django_migrations`)
				}
				rep, err := cleanup.Clear(context.Background(), cleanup.Options{Store: e.Store, Now: T})
				require.NoError(t, err)
				assert.Equal(t, tc.want, rep.Rules)
				assert.Contains(t, rep.RulesReason, "auto")
				// The rules that ran are visible in the rows: 3.4 removes the orphan.
				assert.Equal(t, tc.want == cleanup.RulesDOT33, slices.Contains(w.left(t), "rt7"))
			})
		})
	}
}

func TestBatchingAndInterval(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		for i := 0; i < 10; i++ {
			e.Grant(t, T.Add(-time.Duration(i+1)*time.Minute))
			e.Grant(t, T.Add(time.Hour))
		}
		var events []time.Time
		var sizes []int64
		rep, err := cleanup.Clear(context.Background(), cleanup.Options{
			Store: e.Store, Now: T, BatchSize: 3, BatchInterval: 30 * time.Millisecond, Rules: cleanup.RulesDOT33,
			OnBatch: func(ev cleanup.BatchEvent) {
				if ev.Step == cleanup.StepExpiredGrant {
					events = append(events, time.Now())
					sizes = append(sizes, ev.Deleted)
				}
			},
		})
		require.NoError(t, err)
		assert.EqualValues(t, 10, counts(rep)["expired_grants"])
		assert.GreaterOrEqual(t, len(sizes), 4)
		for _, n := range sizes {
			assert.LessOrEqual(t, n, int64(3))
		}
		for i := 1; i < len(events); i++ {
			assert.GreaterOrEqual(t, events[i].Sub(events[i-1]), 30*time.Millisecond, "pause between batches")
		}
		assert.Len(t, e.IDs(t, "grant"), 10)
	})
}

// MaxRowsPerSecond: batches of at most a tenth of a second's rows, and
// the run never ahead of the rate by more than a batch.
func TestMaxRowsPerSecond(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		for i := 0; i < 20; i++ {
			e.Grant(t, T.Add(-time.Duration(i+1)*time.Minute))
		}
		e.Grant(t, T.Add(time.Hour))
		var sizes []int64
		start := time.Now()
		var last time.Time
		rep, err := cleanup.Clear(context.Background(), cleanup.Options{
			Store: e.Store, Now: T, MaxRowsPerSecond: 40, Rules: cleanup.RulesDOT33,
			OnBatch: func(ev cleanup.BatchEvent) {
				if ev.Step == cleanup.StepExpiredGrant && ev.Deleted > 0 {
					sizes = append(sizes, ev.Deleted)
					last = time.Now()
				}
			},
		})
		require.NoError(t, err)
		assert.EqualValues(t, 20, counts(rep)["expired_grants"])
		assert.Len(t, e.IDs(t, "grant"), 1, "the live grant stays")
		for _, n := range sizes {
			assert.LessOrEqual(t, n, int64(4), "a batch is at most a tenth of a second's rows")
		}
		// The last batch starts once the 16 rows before it are paid for.
		assert.GreaterOrEqual(t, last.Sub(start), 400*time.Millisecond)
	})
}

func TestCancellationStopsBetweenBatches(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		for i := 0; i < 10; i++ {
			e.Grant(t, T.Add(-time.Hour))
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		batches := 0
		rep, err := cleanup.Clear(ctx, cleanup.Options{
			Store: e.Store, Now: T, BatchSize: 3, Rules: cleanup.RulesDOT33,
			OnBatch: func(ev cleanup.BatchEvent) {
				if ev.Step == cleanup.StepExpiredGrant {
					batches++
					if batches == 2 {
						cancel()
					}
				}
			},
		})
		require.Error(t, err)
		assert.True(t, errors.Is(err, cleanup.ErrInterrupted))
		assert.True(t, errors.Is(err, context.Canceled))
		assert.True(t, rep.Interrupted)
		assert.EqualValues(t, 6, counts(rep)["expired_grants"], "two whole batches of 3")
		assert.Len(t, e.IDs(t, "grant"), 4)
	})
}

func TestInvalidOptions(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	for _, o := range []cleanup.Options{
		{},
		{Store: e.Store, BatchSize: -1},
		{Store: e.Store, BatchInterval: -time.Second},
		{Store: e.Store, MaxRowsPerSecond: -1},
		{Store: e.Store, RefreshTokenExpire: -time.Second},
		{Store: e.Store, RefreshTokenGracePeriod: -time.Second},
		{Store: e.Store, Rules: "dot-2"},
	} {
		_, err := cleanup.Clear(context.Background(), o)
		assert.True(t, errors.Is(err, cleanup.ErrInvalidOptions), "%+v: %v", o, err)
	}
}

// A database without DOT's tables: Clear's error matches
// store.ErrMissingTable, on every database.
func TestClearWithoutTables(t *testing.T) {
	path := sqlstoretest.NewEmptySQLite(t)
	st, err := sqlstore.Open(context.Background(), "sqlite:"+path)
	require.NoError(t, err)
	defer st.Close()
	_, err = cleanup.Clear(context.Background(), cleanup.Options{Store: st, Lock: cleanup.LockNone})
	require.Error(t, err)
	assert.True(t, errors.Is(err, store.ErrMissingTable), "%v", err)

	if os.Getenv("OAUTHKIT_TEST_POSTGRES") != "" {
		pst, err := sqlstore.Open(context.Background(), sqlstoretest.NewPostgresSchema(t))
		require.NoError(t, err)
		defer pst.Close()
		_, err = cleanup.Clear(context.Background(), cleanup.Options{Store: pst, Lock: cleanup.LockNone})
		assert.True(t, errors.Is(err, store.ErrMissingTable), "%v", err)
	}

	// Open on a file that does not exist says how to let it create one.
	_, err = sqlstore.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "nope.db"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "sqlstore.AllowCreate()")
	assert.True(t, errors.Is(err, fs.ErrNotExist))
}
