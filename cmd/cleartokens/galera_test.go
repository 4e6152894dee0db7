package main_test

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/application"
	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// ranks turns the ids left in each table into their places among the ids
// seeded: a cluster's ids have gaps (auto_increment_increment), a
// standalone server's do not, so the same rows have other ids.
func ranks(seeded, left map[string][]int64) map[string][]int {
	out := map[string][]int{}
	for tbl, ids := range left {
		out[tbl] = []int{}
		for _, id := range ids {
			out[tbl] = append(out[tbl], slices.Index(seeded[tbl], id))
		}
	}
	return out
}

// One 3-node Galera cluster; on it, everything the README claims of Galera.
func TestGalera(t *testing.T) {
	g := sqlstoretest.StartGalera(t)
	ctx := context.Background()

	// newPair seeds a database on the cluster (through node 1) and one on
	// the standalone server alike, and cleans the standalone one: the
	// reference.
	newPair := func(t *testing.T, l sqlstoretest.Layout, n int) (string, []*sqlstoretest.Env, map[string][]int64, map[string][]int) {
		name := g.NewGaleraDatabase(t, l)
		nodes := g.SyncedEnvs(t, name, l)
		require.NoError(t, nodes[0].Store.Migrate(ctx), "the lease table, as --create-schema makes it")
		base := time.Now()
		nodes[0].SeedMix(t, n, base)
		ref := sqlstoretest.New(t, sqlstore.DialectMySQL, l)
		ref.SeedMix(t, n, base)
		seededRef, seeded := ref.Snapshot(t), nodes[0].Snapshot(t)
		r := runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + ref.URL}, settings34...), "--batch-size", "20")
		require.Equal(t, 0, r.code, r.stderr)
		return name, nodes, seeded, ranks(seededRef, ref.Snapshot(t))
	}
	allEqual := func(t *testing.T, nodes []*sqlstoretest.Env, seeded map[string][]int64, want map[string][]int) {
		first := nodes[0].Snapshot(t)
		for i, n := range nodes {
			assert.Equal(t, first, n.Snapshot(t), "node %d", i+1)
		}
		assert.Equal(t, want, ranks(seeded, first), "the rows a standalone server's run leaves")
		nodes[0].AssertNoDanglingKeys(t)
	}

	t.Run("same rows as a standalone server", func(t *testing.T) {
		for _, l := range sqlstoretest.Layouts {
			_, nodes, seeded, want := newPair(t, l, 300)
			r := runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + nodes[1].URL}, settings34...), "--batch-size", "20")
			require.Equal(t, 0, r.code, r.stderr)
			allEqual(t, nodes, seeded, want)
		}
	})

	t.Run("two cleaners on two nodes: one works", func(t *testing.T) {
		_, nodes, seeded, want := newPair(t, sqlstoretest.DOT341, 400)
		results := testcmd.AtOnce(2, func(i int) result {
			return runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + nodes[i].URL}, settings34...),
				"--batch-size", "10", "--batch-interval", "0.05")
		})
		worked, locked := 0, 0
		for _, r := range results {
			require.Equal(t, 0, r.code, r.stderr)
			if strings.Contains(r.stderr, "another cleartokens run holds the lock") {
				locked++
			} else if strings.Contains(r.stdout, "Expired access tokens deleted") {
				worked++
			}
		}
		assert.Equal(t, 1, worked)
		assert.Equal(t, 1, locked)
		allEqual(t, nodes, seeded, want)
	})

	t.Run("a killed cleaner's lease expires", func(t *testing.T) {
		_, nodes, seeded, want := newPair(t, sqlstoretest.DOT341, 600)
		cmd := exec.Command(binary, "-v", "3", "--batch-size", "10", "--batch-interval", "0.05", "--lock-lease", "3s")
		cmd.Env = append([]string{"DATABASE_URL=" + nodes[0].URL}, settings34...)
		stderr, err := cmd.StderrPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(stderr)
		for batches := 0; sc.Scan(); {
			if strings.Contains(sc.Text(), "batch committed") {
				if batches++; batches == 5 {
					require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
					break
				}
			}
		}
		cmd.Wait() //nolint:errcheck
		r := runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + nodes[1].URL}, settings34...), "--lock-lease", "3s")
		assert.Equal(t, 0, r.code, r.stderr)
		assert.Contains(t, r.stderr, "another cleartokens run holds the lock", "the lease outlives its killed holder")
		start := time.Now()
		r = runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + nodes[1].URL}, settings34...), "--lock-lease", "3s", "--wait")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Less(t, time.Since(start), 30*time.Second, "within the lease (and the work)")
		allEqual(t, nodes, seeded, want)
	})

	t.Run("createapplication on node 2, verify on node 3", func(t *testing.T) {
		name := g.NewGaleraDatabase(t, sqlstoretest.DOT341)
		nodes := g.SyncedEnvs(t, name, sqlstoretest.DOT341)
		bin, done := testcmd.Build("createapplication", "../createapplication")
		defer done()
		r := testcmd.Run(t, bin, t.TempDir(), []string{"DATABASE_URL=" + nodes[1].URL}, "", "confidential", "client-credentials",
			"--client-id", "svc", "--hasher-iterations", "1000")
		require.Equal(t, 0, r.Code, r.Stderr)
		m := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(r.Stdout)
		require.NotNil(t, m)
		_, ok, err := application.VerifyClientSecret(ctx, nodes[2].Store, "svc", m[1])
		require.NoError(t, err)
		assert.True(t, ok)
	})

	t.Run("clearcimdapplications", func(t *testing.T) {
		name := g.NewGaleraDatabase(t, sqlstoretest.DOT341)
		nodes := g.SyncedEnvs(t, name, sqlstoretest.DOT341)
		require.NoError(t, nodes[0].Store.Migrate(ctx))
		past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		idle := nodes[0].Application(t, true, past)
		live := nodes[0].Application(t, true, past)
		nodes[0].ForApplication(t, idle).AccessToken(t, past)
		nodes[0].ForApplication(t, live).Grant(t, future)
		bin, done := testcmd.Build("clearcimdapplications", "../clearcimdapplications")
		defer done()
		r := testcmd.Run(t, bin, t.TempDir(), []string{"DATABASE_URL=" + nodes[2].URL}, "")
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Equal(t, "Deleted 1 expired CIMD application(s)\n", r.Stdout)
		for i, n := range nodes {
			apps := n.IDs(t, "application")
			assert.NotContains(t, apps, idle, "node %d", i+1)
			assert.Contains(t, apps, live, "node %d", i+1)
		}
	})

	t.Run("no lease table: one clear line", func(t *testing.T) {
		name := g.NewGaleraDatabase(t, sqlstoretest.DOT341)
		r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + g.Nodes[0].URL(name)})
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stderr, fmt.Sprintf("on a Galera cluster the single-runner lock is a lease in table %q, which does not exist", "oauthkit_lock"))
		r = runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + g.Nodes[0].URL(name)}, "--no-lock")
		assert.Equal(t, 0, r.code, r.stderr)
	})
}
