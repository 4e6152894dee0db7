package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// A real streaming standby: the cleaner on the primary pauses while the
// standby's replay is paused (pg_wal_replay_pause) and goes on after
// pg_wal_replay_resume; pointed at the standby itself, it says in one line
// that it needs the primary, and a dry run works there.
func TestMaxReplicaLagWithRealStandby(t *testing.T) {
	primary, standby := sqlstoretest.StreamingPair(t)
	e := sqlstoretest.NewPostgresAt(t, primary.URL("postgres"), sqlstoretest.DOT341)
	e.SeedMix(t, 1500, time.Now())
	stby := sqlx.MustOpen("postgres", standby.URL("postgres"))
	defer stby.Close()
	waitCaughtUp(t, e.DB)

	r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + standby.URL("postgres")})
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "is a standby in recovery (read-only): run this against the primary")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	r = runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + standby.URL("postgres")}, settings34...), "--dry-run")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Expired access tokens to delete (dry run)")

	cmd := exec.Command(binary, "--max-replica-lag", "1s", "--batch-size", "20", "--batch-interval", "0.02", "-v", "2", "--json")
	cmd.Env = append([]string{"DATABASE_URL=" + e.URL}, settings34...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	time.Sleep(300 * time.Millisecond)
	stby.MustExec(`SELECT pg_wal_replay_pause()`)

	sc := bufio.NewScanner(stderr)
	waiting := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if strings.Contains(sc.Text(), "waiting: standby") {
				select {
				case waiting <- sc.Text():
				default:
				}
			}
		}
	}()
	select {
	case line := <-waiting:
		t.Log(line)
		assert.Contains(t, line, "(--max-replica-lag 1s)")
	case <-time.After(60 * time.Second):
		t.Fatal("the cleaner never paused for the standby")
	}
	before := e.Snapshot(t)
	time.Sleep(2 * time.Second)
	assert.Equal(t, before, e.Snapshot(t), "nothing deleted while the standby's replay is paused")
	stby.MustExec(`SELECT pg_wal_replay_resume()`)
	require.NoError(t, cmd.Wait())

	var rep struct {
		ReplicaPauses      int     `json:"replica_pauses"`
		ReplicaWaitSeconds float64 `json:"replica_wait_seconds"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), stdout.String())
	assert.GreaterOrEqual(t, rep.ReplicaPauses, 1)
	assert.GreaterOrEqual(t, rep.ReplicaWaitSeconds, 2.0)
	r = runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + e.URL}, settings34...), "--dry-run")
	assert.Contains(t, r.stdout, "0 Expired access tokens to delete", "the run finished the work")

	// While paused, the time budget and a signal still end the run.
	e.SeedMix(t, 400, time.Now())
	waitCaughtUp(t, e.DB)
	stby.MustExec(`SELECT pg_wal_replay_pause()`)
	start := time.Now()
	r = runCmd(t, t.TempDir(), append([]string{"DATABASE_URL=" + e.URL}, settings34...),
		"--max-replica-lag", "500ms", "--batch-size", "5", "--batch-interval", "0.2", "--max-duration", "4s", "--json")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Less(t, time.Since(start), 20*time.Second)
	assert.Contains(t, r.stdout, `"stopped_early":true`)
	assert.NotContains(t, r.stdout, `"replica_pauses":0`)
	interrupted := exec.Command(binary, "--max-replica-lag", "500ms", "--batch-size", "5", "--batch-interval", "0.2")
	interrupted.Env = append([]string{"DATABASE_URL=" + e.URL}, settings34...)
	var errOut bytes.Buffer
	interrupted.Stderr = &errOut
	require.NoError(t, interrupted.Start())
	time.Sleep(4 * time.Second)
	require.NoError(t, interrupted.Process.Signal(syscall.SIGTERM))
	err = interrupted.Wait()
	require.Error(t, err)
	assert.Contains(t, errOut.String(), "interrupted")
	stby.MustExec(`SELECT pg_wal_replay_resume()`)
}

// waitCaughtUp waits until every standby has replayed all of the primary's WAL.
func waitCaughtUp(t *testing.T, primary *sqlx.DB) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var behind int64
		require.NoError(t, primary.Get(&behind, `SELECT COALESCE(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), -1)::bigint FROM pg_stat_replication`))
		if behind == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the standby did not catch up")
}
