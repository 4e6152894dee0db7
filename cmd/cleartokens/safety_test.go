package main_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

var settings34 = []string{"CLEARTOKENS_RULES=dot-3.4", "REFRESH_TOKEN_EXPIRE_SECONDS=86400"}

// twins seeds two identical databases.
func twins(t *testing.T, d sqlstore.Dialect, l sqlstoretest.Layout, n int) (*sqlstoretest.Env, *sqlstoretest.Env) {
	base := time.Now()
	a, b := sqlstoretest.New(t, d, l), sqlstoretest.New(t, d, l)
	a.SeedMix(t, n, base)
	b.SeedMix(t, n, base)
	require.Equal(t, a.Snapshot(t), b.Snapshot(t), "the copies are identical")
	return a, b
}

// Four cleaners started at once on one database: exactly one works, the
// others say another run holds the lock and exit 0, and the result equals
// a single run on an identical copy.
func TestFleet(t *testing.T) {
	for _, d := range sqlstoretest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			a, b := twins(t, d, sqlstoretest.DOT341, 400)
			env := append([]string{"DATABASE_URL=" + a.URL}, settings34...)
			results := testcmd.AtOnce(4, func(int) result {
				return runCmd(t, t.TempDir(), env, "--batch-size", "10", "--batch-interval", "0.05")
			})
			workers, skipped := 0, 0
			for _, r := range results {
				require.Equal(t, 0, r.code, r.stderr)
				switch {
				case strings.Contains(r.stdout, "Expired access tokens deleted"):
					workers++
				case strings.Contains(r.stderr, "another cleartokens run holds the lock"):
					skipped++
					assert.Empty(t, r.stdout)
				}
			}
			assert.Equal(t, 1, workers, "exactly one cleaner works")
			assert.Equal(t, 3, skipped)

			single := runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + b.URL}, settings34...))
			require.Equal(t, 0, single.code, single.stderr)
			assert.Equal(t, b.Snapshot(t), a.Snapshot(t), "the fleet left what a single run leaves")
			a.AssertNoDanglingKeys(t)
		})
	}
}

// SIGKILL mid-run, then a second run to the end: the rows left equal those
// of an uninterrupted run on an identical copy, and every foreign key holds.
func TestCrashAndResume(t *testing.T) {
	for _, d := range sqlstoretest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			a, b := twins(t, d, sqlstoretest.DOT301, 1500)
			before := a.Snapshot(t)
			env := append([]string{"DATABASE_URL=" + a.URL}, settings34...)

			cmd := exec.Command(binary, "-v", "3", "--batch-size", "20", "--batch-interval", "0.01")
			cmd.Env = env
			stderr, err := cmd.StderrPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			sc := bufio.NewScanner(stderr)
			batches := 0
			for sc.Scan() {
				if strings.Contains(sc.Text(), "batch committed") {
					if batches++; batches == 8 {
						require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
						break
					}
				}
			}
			err = cmd.Wait()
			require.Error(t, err, "the first run was killed")
			mid := a.Snapshot(t)
			assert.NotEqual(t, before, mid, "the killed run had deleted something")
			a.AssertNoDanglingKeys(t)

			// --wait: the dead run's lock goes with its session or file.
			r := runCmd(t, t.TempDir(), env, "--wait")
			require.Equal(t, 0, r.code, r.stderr)
			single := runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + b.URL}, settings34...))
			require.Equal(t, 0, single.code, single.stderr)

			assert.NotEqual(t, mid, a.Snapshot(t), "the second run finished the work")
			assert.Equal(t, b.Snapshot(t), a.Snapshot(t))
			a.AssertNoDanglingKeys(t)
		})
	}
}

// The SQLite lock leaves nothing beside the database: the folder holds the
// same files after a run (with the lock taken) as before.
func TestSQLiteLockLeavesNoFile(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	dir := filepath.Dir(e.Path())
	before, err := os.ReadDir(dir)
	require.NoError(t, err)
	e.AccessToken(t, time.Now().Add(-time.Hour))
	r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL}, "--wait")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "1 Expired access tokens deleted")
	after, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := func(es []os.DirEntry) (n []string) {
		for _, e := range es {
			if !strings.HasSuffix(e.Name(), "-journal") && !strings.HasSuffix(e.Name(), "-wal") && !strings.HasSuffix(e.Name(), "-shm") {
				n = append(n, e.Name())
			}
		}
		return n
	}
	assert.Equal(t, names(before), names(after), "no lock file or other stray file")
}

// A symlinked database works, and its lock is the lock of the file it
// points at: a run through the link and a run on the file exclude each
// other.
func TestSQLiteLockThroughSymlink(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	link := filepath.Join(t.TempDir(), "link.sqlite3")
	require.NoError(t, os.Symlink(e.Path(), link))
	held, err := e.Store.Lock(context.Background(), store.LockParams{Name: cleanup.LockName})
	require.NoError(t, err)
	r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=sqlite:" + link})
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "another cleartokens run holds the lock")
	require.NoError(t, held.Unlock())
	r = runCmd(t, t.TempDir(), []string{"DATABASE_URL=sqlite:" + link})
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Expired access tokens deleted")
}
