package main_test

import (
	"bufio"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
			var wg sync.WaitGroup
			results := make([]result, 4)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = runCmd(t, t.TempDir(), env, "--batch-size", "10", "--batch-interval", "0.05")
				}()
			}
			wg.Wait()
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
