package main_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

func dotLines(stdout string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// --dry-run prints the counts a real run then deletes, and deletes nothing.
func TestDryRunCommand(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		e.SeedMix(t, 300, time.Now())
		before := e.Snapshot(t)
		env := append([]string{"DATABASE_URL=" + e.URL}, settings34...)
		dry := runCmd(t, t.TempDir(), env, "--dry-run", "--batch-size", "17")
		require.Equal(t, 0, dry.code, dry.stderr)
		assert.Contains(t, dry.stderr, "Dry run: nothing was deleted")
		assert.Equal(t, before, e.Snapshot(t))

		real := runCmd(t, t.TempDir(), env, "--batch-size", "17")
		require.Equal(t, 0, real.code, real.stderr)
		want := dotLines(real.stdout)
		got := dotLines(dry.stdout)
		require.Len(t, got, len(want))
		for i := range want {
			assert.Equal(t, strings.Replace(want[i], " deleted", " to delete", 1)+" (dry run)", got[i])
		}
		assert.NotEqual(t, before, e.Snapshot(t))
	})
}

func TestOnlyBeforeKeep(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	now := time.Now()
	e.Grant(t, now.Add(-time.Hour))
	e.Grant(t, now.Add(-72*time.Hour))
	e.AccessToken(t, now.Add(-time.Hour))
	env := append([]string{"DATABASE_URL=" + e.URL}, settings34...)

	r := runCmd(t, t.TempDir(), env, "--only", "grant", "--keep-if-younger", "48h")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{"1 Expired grant tokens deleted"}, dotLines(r.stdout))
	assert.Len(t, e.IDs(t, "grant"), 1, "the grant that expired an hour ago stays for the audit window")
	assert.Len(t, e.IDs(t, "accesstoken"), 1, "access tokens were not selected")

	r = runCmd(t, t.TempDir(), env, "--only", "access,grant", "--before", now.Add(-2*time.Hour).UTC().Format(time.RFC3339))
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{"0 Expired access tokens deleted", "0 Expired grant tokens deleted"}, dotLines(r.stdout))

	r = runCmd(t, t.TempDir(), env, "--only", "access,grant")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{"1 Expired access tokens deleted", "1 Expired grant tokens deleted"}, dotLines(r.stdout))

	for _, bad := range [][]string{
		{"--only", "tokens"}, {"--before", "tomorrow"}, {"--before", now.Add(time.Hour).UTC().Format(time.RFC3339)},
		{"--before", "2026-01-01", "--keep-if-younger", "1h"}, {"--keep-if-younger", "-1h"}, {"--max-duration", "soon"},
		{"--progress", "sometimes"}, {"--log-format", "xml"}, {"--every", "1s", "--max-duration", "2s"},
	} {
		r := runCmd(t, t.TempDir(), env, bad...)
		assert.Equal(t, 2, r.code, "%v: %s", bad, r.stderr)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "%v: %s", bad, r.stderr)
	}
}

// --max-duration stops after the batch that crosses the budget, exits 0
// with the partial report, and the next run goes on.
func TestMaxDurationCommand(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	e.InTx(t, func() {
		for i := 0; i < 30; i++ {
			e.Grant(t, time.Now().Add(-time.Hour))
		}
	})
	env := append([]string{"DATABASE_URL=" + e.URL}, settings34...)
	r := runCmd(t, t.TempDir(), env, "--only", "grant", "--batch-size", "2", "--batch-interval", "0.05", "--max-duration", "150ms", "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var rep cleanup.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.True(t, rep.StoppedEarly)
	left := len(e.IDs(t, "grant"))
	assert.Greater(t, left, 0)
	assert.EqualValues(t, 30-left, rep.Deleted())

	r = runCmd(t, t.TempDir(), env, "--only", "grant")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, e.IDs(t, "grant"))
	assert.Equal(t, []string{strconv.Itoa(left) + " Expired grant tokens deleted"}, dotLines(r.stdout))
}

func TestProgressAndLogFormat(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	for i := 0; i < 5; i++ {
		e.Grant(t, time.Now().Add(-time.Hour))
	}
	env := append([]string{"DATABASE_URL=" + e.URL}, settings34...)
	quiet := runCmd(t, t.TempDir(), env, "--dry-run")
	assert.NotContains(t, quiet.stderr, "progress:", "stderr is not a terminal: no progress")
	r := runCmd(t, t.TempDir(), env, "--progress", "always", "--batch-size", "2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Regexp(t, regexp.MustCompile(`progress: step \d/\d Expired grant tokens: 5 deleted, \d+ rows/s, 0:\d\d, 100%`), r.stderr)

	e.Grant(t, time.Now().Add(-time.Hour))
	r = runCmd(t, t.TempDir(), env, "-v", "3", "--log-format", "json")
	require.Equal(t, 0, r.code, r.stderr)
	records := 0
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.HasPrefix(line, "{") {
			var rec map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
			records++
		}
	}
	assert.Positive(t, records, "debug records as JSON: %s", r.stderr)
}

// --every keeps cleaning until SIGTERM; a failed run is logged and tried
// again; metrics are written after each run, and served at
// --metrics-listen.
func TestEveryAndMetrics(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	metricsPath := filepath.Join(t.TempDir(), "oauthkit.prom")
	cmd := exec.Command(binary, "--every", "1s", "--metrics-textfile", metricsPath, "--log-format", "json", "--metrics-listen", "127.0.0.1:0")
	cmd.Env = append([]string{"DATABASE_URL=" + e.URL}, settings34...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill() //nolint:errcheck
	logs := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs <- sc.Text()
		}
		close(logs)
	}()
	waitFor := func(what string, cond func(line string) bool) {
		t.Helper()
		deadline := time.After(45 * time.Second)
		for {
			select {
			case line, ok := <-logs:
				require.True(t, ok, "the process ended while waiting for %s", what)
				if cond(line) {
					return
				}
			case <-deadline:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	finished := func(line string) bool { return strings.Contains(line, `"msg":"run finished"`) }
	var metricsURL string
	waitFor("the metrics address", func(line string) bool {
		if m := regexp.MustCompile(`"msg":"serving metrics","url":"([^"]+)"`).FindStringSubmatch(line); m != nil {
			metricsURL = m[1]
			return true
		}
		return false
	})
	waitFor("a first run", finished)
	e.Grant(t, time.Now().Add(-time.Minute))
	waitFor("a run that deletes the grant", func(line string) bool {
		return finished(line) && strings.Contains(line, `"expired_grants":1`)
	})
	metrics, err := os.ReadFile(metricsPath)
	require.NoError(t, err)
	assert.Contains(t, string(metrics), "oauthkit_cleartokens_last_run_success 1")
	assert.Regexp(t, `oauthkit_cleartokens_rows_deleted\{dry_run="false",step="expired_grants"\} \d`, string(metrics))
	assert.Regexp(t, `oauthkit_cleartokens_last_success_timestamp_seconds \d\.\d+e\+09`, string(metrics))
	resp, err := http.Get(metricsURL)
	require.NoError(t, err)
	served, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Regexp(t, `oauthkit_cleartokens_runs_total\{result="success"\} ([2-9]|\d{2,})\n`, string(served), "the counters of this process")
	assert.Regexp(t, `oauthkit_cleartokens_rows_deleted_total\{dry_run="false",step="expired_grants"\} 1`, string(served))
	assert.Contains(t, string(metrics), "# TYPE oauthkit_cleartokens_duration_seconds gauge")

	e.Exec(t, `ALTER TABLE oauth2_provider_grant RENAME TO grant_away`)
	waitFor("a failed run, logged", func(line string) bool { return strings.Contains(line, `"msg":"run failed; trying again next time"`) })
	// The metrics of a run are written before its log record.
	metrics, err = os.ReadFile(metricsPath)
	require.NoError(t, err)
	assert.Contains(t, string(metrics), "oauthkit_cleartokens_last_run_success 0")
	assert.Contains(t, string(metrics), "oauthkit_cleartokens_last_success_timestamp_seconds", "the last success is kept")
	e.Exec(t, `ALTER TABLE grant_away RENAME TO oauth2_provider_grant`)
	waitFor("recovery", finished)

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), "SIGTERM ends the process with status 0")
	entries, err := os.ReadDir(filepath.Dir(metricsPath))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary metrics files are left")
}

// On a terminal (a pty from util-linux's script), progress and colour come
// on by themselves.
func TestTerminalGetsProgressAndColour(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("util-linux script is not installed: no pty to test with")
	}
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	e.Grant(t, time.Now().Add(-time.Hour))
	cmd := exec.Command(script, "-qec", binary+" --only grant", "/dev/null")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=" + e.URL}, settings34...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	assert.Contains(t, string(out), "\r\x1b[Kstep 1/1 Expired grant tokens: 1 deleted", "one line, updated in place")
	assert.NotRegexp(t, `step \d/\d [^\r]*\n`, string(out), "no progress line ends in a newline")
	assert.Contains(t, string(out), "\x1b[32m1 Expired grant tokens deleted\x1b[0m")
}
