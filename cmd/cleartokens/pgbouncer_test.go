package main_test

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/faulttest"
	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// behindBouncer seeds a database reached through a PgBouncer in transaction
// mode (pool of 2), and an identical one reached directly, cleaned by one
// plain run, as the reference.
func behindBouncer(t *testing.T, n int) (bounced, reference *sqlstoretest.Env, b *sqlstoretest.PgBouncer) {
	b = sqlstoretest.StartPgBouncer(t)
	base := time.Now()
	bounced = sqlstoretest.NewBehindPgBouncer(t, b, sqlstoretest.DOT341)
	bounced.SeedMix(t, n, base)
	reference = sqlstoretest.New(t, sqlstore.DialectPostgres, sqlstoretest.DOT341)
	reference.SeedMix(t, n, base)
	require.Equal(t, reference.Snapshot(t), bounced.Snapshot(t))
	r := runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + reference.URL}, settings34...))
	require.Equal(t, 0, r.code, r.stderr)
	return bounced, reference, b
}

func TestPgBouncerRunsInARowAndAtOnce(t *testing.T) {
	e, ref, _ := behindBouncer(t, 400)
	env := append([]string{"DATABASE_URL=" + e.URL}, settings34...)

	// Four at once: exactly one works, the others report the lock.
	results := testcmd.AtOnce(4, func(int) result {
		return runCmd(t, t.TempDir(), env, "--batch-size", "20", "--batch-interval", "0.05")
	})
	workers := 0
	for _, r := range results {
		require.Equal(t, 0, r.code, r.stderr)
		if strings.Contains(r.stdout, "Expired access tokens deleted") {
			workers++
		} else {
			assert.Contains(t, r.stderr, "another cleartokens run holds the lock")
		}
	}
	assert.Equal(t, 1, workers, "exactly one run worked")
	assert.Equal(t, ref.Snapshot(t), e.Snapshot(t), "the result equals one run's")

	// Then two in a row: each takes the lock afresh (none is left in the
	// pool) and finds nothing more to do.
	for i := 0; i < 2; i++ {
		r := runCmd(t, t.TempDir(), env, "-v", "2")
		require.Equal(t, 0, r.code, r.stderr)
		assert.NotContains(t, r.stderr, "holds the lock")
		assert.Contains(t, r.stdout, "0 Expired access tokens deleted")
		assert.Contains(t, r.stderr, "dot-3.4", "auto read this database's own ledger")
	}
}

// kill -9 mid-run: the next run, at once and without --wait, finds no lock
// left behind in the pool and cleans everything.
func TestPgBouncerKillLeavesNoLock(t *testing.T) {
	e, ref, _ := behindBouncer(t, 600)
	env := append([]string{"DATABASE_URL=" + e.URL}, settings34...)
	cmd := exec.Command(binary, "-v", "3", "--batch-size", "10", "--batch-interval", "0.05")
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stderr)
	batches := 0
	for sc.Scan() {
		if strings.Contains(sc.Text(), "batch committed") {
			if batches++; batches == 5 {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				break
			}
		}
	}
	cmd.Wait() //nolint:errcheck
	r := runCmd(t, t.TempDir(), env)
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "holds the lock", "the killed run's lock is gone")
	assert.Equal(t, ref.Snapshot(t), e.Snapshot(t))
	e.AssertNoDanglingKeys(t)
}

// --wait behind a running cleaner returns once that one ends, and does not
// starve it of the pool's two server connections meanwhile.
func TestPgBouncerWait(t *testing.T) {
	e, ref, _ := behindBouncer(t, 400)
	env := append([]string{"DATABASE_URL=" + e.URL}, settings34...)
	first := exec.Command(binary, "-v", "3", "--batch-size", "10", "--batch-interval", "0.05")
	first.Env = env
	stderr, err := first.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, first.Start())
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "batch committed") {
	}
	go func() {
		for sc.Scan() {
		}
	}()
	start := time.Now()
	r := runCmd(t, t.TempDir(), env, "--wait")
	waited := time.Since(start)
	require.NoError(t, first.Wait())
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "0 Expired access tokens deleted", "the waiter ran after the first had cleaned everything")
	assert.Less(t, waited, 60*time.Second)
	assert.Equal(t, ref.Snapshot(t), e.Snapshot(t))
}

// Other clients keep the pool busy with short transactions; ten runs in a
// row all succeed, and the data ends as one run leaves it.
func TestPgBouncerUnderTraffic(t *testing.T) {
	e, ref, b := behindBouncer(t, 300)
	env := append([]string{"DATABASE_URL=" + e.URL}, settings34...)
	// Background traffic: each loop does a short transaction (read,
	// write to its own scratch table, commit) through the same pool.
	traffic, err := sqlx.Open("postgres", e.URL+"&binary_parameters=yes")
	require.NoError(t, err)
	defer traffic.Close()
	traffic.MustExec(`CREATE TABLE scratch (id serial PRIMARY KEY, v int)`)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var ops atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				tx, err := traffic.BeginTxx(ctx, nil)
				if err != nil {
					continue
				}
				var n int
				if tx.GetContext(ctx, &n, `SELECT count(*) FROM oauth2_provider_application WHERE id > $1`, w) == nil {
					tx.ExecContext(ctx, `INSERT INTO scratch (v) VALUES ($1)`, n) //nolint:errcheck
				}
				if tx.Commit() == nil {
					ops.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 10; i++ {
		r := runCmd(t, t.TempDir(), env, "--batch-size", "25")
		require.Equal(t, 0, r.code, "run %d: %s", i, r.stderr)
		assert.NotContains(t, r.stderr, "holds the lock", "run %d", i)
	}
	cancel()
	wg.Wait()
	t.Logf("background transactions through pgbouncer on port %d: %d", b.Port, ops.Load())
	assert.Greater(t, ops.Load(), int64(50), "the traffic ran beside the cleaners")
	assert.Equal(t, ref.Snapshot(t), e.Snapshot(t))
}

// A PgBouncer a test starts is gone when the test ends (as root it runs
// under runuser, which does not pass signals on).
func TestPgBouncerStoppedWithItsTest(t *testing.T) {
	var pid int
	t.Run("uses PgBouncer", func(t *testing.T) {
		b := sqlstoretest.StartPgBouncer(t)
		pid = b.Pid(t)
	})
	if pid == 0 && !t.Failed() {
		// The subtest skipped (no PostgreSQL to put PgBouncer before, or no
		// PgBouncer): nothing was started, so nothing is left to watch.
		t.Skip("no PgBouncer was started")
	}
	require.NotZero(t, pid)
	faulttest.WaitFor(t, "PgBouncer to exit", func() bool { return syscall.Kill(pid, 0) == syscall.ESRCH })
}
