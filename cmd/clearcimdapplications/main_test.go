package main_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

var binary string

func TestMain(m *testing.M) {
	bin, done := testcmd.Build("clearcimdapplications", ".")
	binary = bin
	code := m.Run()
	done()
	os.Exit(code)
}

func run(t *testing.T, e *sqlstoretest.Env, args ...string) testcmd.Result {
	t.Helper()
	var env []string
	if e != nil {
		env = []string{"DATABASE_URL=" + e.URL}
	}
	return testcmd.Run(t, binary, t.TempDir(), env, "", args...)
}

// seedPQ makes DOT's batch-size dependence: P's ID token holds Q's only
// live access token; P comes first. It returns P, Q and an idle expired
// CIMD application R, a live one L, and a manual one M.
func seedPQ(t *testing.T, e *sqlstoretest.Env) (p, q, r, l, m int64) {
	now := time.Now()
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	p = e.Application(t, true, past)
	q = e.Application(t, true, past)
	r = e.Application(t, true, past)
	l = e.Application(t, true, past)
	m = e.Application(t, false, time.Time{})
	ip := e.ForApplication(t, p).IDToken(t, past)
	qh := e.ForApplication(t, q)
	qh.Link(t, "accesstoken", qh.AccessToken(t, future), "id_token_id", ip)
	e.ForApplication(t, r).AccessToken(t, past)
	e.ForApplication(t, l).Grant(t, future)
	return
}

func TestDOTOutputAndRows(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		if !e.Layout.AtLeast(sqlstoretest.DOT341) {
			// Nothing to clean on a DOT without CIMD: one line, exit 0,
			// so the shipped schedules work on every DOT.
			r := run(t, e)
			assert.Equal(t, 0, r.Code)
			assert.Contains(t, r.Stderr, "has no CIMD registration (DOT 3.4 or later adds it): nothing to clean")
			assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), r.Stderr)
			assert.Empty(t, r.Stdout)
			return
		}
		p, q, rr, l, m := seedPQ(t, e)
		before := e.Snapshot(t)
		r := run(t, e, "--dry-run")
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Equal(t, "Would delete 2 expired CIMD application(s) (dry run)\n", r.Stdout)
		assert.Equal(t, before, e.Snapshot(t))

		r = run(t, e, "-v", "0")
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Equal(t, "Deleted 2 expired CIMD application(s)\n", r.Stdout, "DOT's line, at every verbosity")
		apps := e.IDs(t, "application")
		assert.NotContains(t, apps, p)
		assert.NotContains(t, apps, rr)
		for _, id := range []int64{q, l, m} {
			assert.Contains(t, apps, id)
		}
		e.AssertNoDanglingKeys(t)

		// Q was live when its batch looked at it; P's cascade took its
		// token, so the next run finds it idle.
		r = run(t, e, "-v", "2")
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Equal(t, "Deleted 1 expired CIMD application(s)\n", r.Stdout)
		assert.Contains(t, r.Stderr, "2 expired CIMD applications examined in 1 batches, 1 kept")
		assert.NotContains(t, e.IDs(t, "application"), q)
		r = run(t, e)
		assert.Equal(t, "Deleted 0 expired CIMD application(s)\n", r.Stdout)
	})
}

// The batch size changes the result, as in DOT: with batches of one, P's
// batch takes Q's live token and Q's own batch then finds Q idle.
func TestBatchSizeDependence(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	seedPQ(t, e)
	r := run(t, e, "--batch-size", "1")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "Deleted 3 expired CIMD application(s)\n", r.Stdout)
	e2 := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	seedPQ(t, e2)
	r = run(t, e2, "--batch-size", "1000")
	assert.Equal(t, "Deleted 2 expired CIMD application(s)\n", r.Stdout)
}

func TestBadUsageLockAndJSON(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	for _, v := range []string{"0", "-5"} {
		r := run(t, e, "--batch-size", v)
		assert.Equal(t, 2, r.Code)
		assert.Equal(t, "clearcimdapplications: error: --batch-size must be a positive integer.\n", r.Stderr)
	}
	r := run(t, e, "--batch-size", "x")
	assert.Equal(t, 2, r.Code)
	assert.Contains(t, r.Stderr, `--batch-size "x": not a whole number`)

	held, err := e.Store.Lock(context.Background(), store.LockParams{Name: cleanup.CIMDLockName})
	require.NoError(t, err)
	r = run(t, e)
	assert.Equal(t, 0, r.Code)
	assert.Contains(t, r.Stderr, "another clearcimdapplications run holds the lock")
	cleartokensLock, err := e.Store.Lock(context.Background(), store.LockParams{Name: cleanup.LockName})
	require.NoError(t, err, "cleartokens' lock is another lock")
	require.NoError(t, cleartokensLock.Unlock())
	require.NoError(t, held.Unlock())

	seedPQ(t, e)
	r = run(t, e, "--json")
	require.Equal(t, 0, r.Code, r.Stderr)
	var obj map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &obj))
	doc := testcmd.READMEJSONFields(t, "clearcimdapplications")
	for k, v := range obj {
		assert.Equal(t, doc[k], testcmd.JSONKind(v), "field %s", k)
	}
	for k := range doc {
		assert.Contains(t, obj, k, "documented field %s is printed", k)
	}
	assert.EqualValues(t, 2, obj["deleted"])

	r = run(t, nil, "--version")
	assert.Regexp(t, `^clearcimdapplications \S+`, r.Stdout)
	r = run(t, nil, "--help")
	assert.Contains(t, r.Stdout, "--batch-size N")
	assert.Contains(t, r.Stdout, "(default 1000)")
}
