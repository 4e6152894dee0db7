package main_test

// What a new user meets first: the default database said out loud, one
// machine format per mode, --every's warnings and signals, and options
// mistyped.

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// With no DATABASE_URL, stderr names the database used, and says it was
// just created, at every verbosity (a cron mail shows it).
func TestDefaultDatabaseIsNamed(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "db.sqlite3")
	r := runCmd(t, dir, nil, "-v", "0")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "no DATABASE_URL given: using the embedded default sqlite:db.sqlite3 ("+abs+"), created just now")
	r = runCmd(t, dir, nil, "-v", "0")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "using the embedded default sqlite:db.sqlite3 ("+abs+")")
	assert.NotContains(t, r.stderr, "created")

	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	r = runCmd(t, dir, []string{"DATABASE_URL=" + e.URL})
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "DATABASE_URL", "a named database needs no notice")
}

// jsonLines asserts that every line of s is one JSON object and returns them.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), "not a JSON record: %q", line)
		recs = append(recs, rec)
	}
	return recs
}

// Under --log-format json every line on stderr is a JSON record, the
// warnings and the error included; under --json an error is also a JSON
// object on stdout, with the exit status unchanged.
func TestOneMachineFormat(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL, "CLEARTOKENS_RULES=dot-3.4"}, "--log-format", "json", "-v", "2")
	require.Equal(t, 0, r.code, r.stderr)
	recs := jsonLines(t, r.stderr)
	var levels []string
	for _, rec := range recs {
		levels = append(levels, rec["level"].(string))
	}
	assert.Contains(t, levels, "WARN", "the no-expiry warning is a record: %s", r.stderr)

	bad := []string{"DATABASE_URL=sqlite:" + filepath.Join(t.TempDir(), "missing.sqlite3")}
	r = runCmd(t, t.TempDir(), bad, "--log-format", "json")
	require.Equal(t, 1, r.code, r.stderr)
	recs = jsonLines(t, r.stderr)
	require.Len(t, recs, 1)
	assert.Equal(t, "ERROR", recs[0]["level"])
	assert.Contains(t, recs[0]["msg"], "does not exist")

	r = runCmd(t, t.TempDir(), bad, "--json")
	require.Equal(t, 1, r.code)
	out := jsonLines(t, r.stdout)
	require.Len(t, out, 1)
	assert.Contains(t, out[0]["error"], "does not exist")
	assert.EqualValues(t, 1, out[0]["exit"])

	r = runCmd(t, t.TempDir(), nil, "--json", "--batch-size", "0")
	require.Equal(t, 2, r.code)
	out = jsonLines(t, r.stdout)
	require.Len(t, out, 1)
	assert.EqualValues(t, 2, out[0]["exit"])
}

// A value forgotten is not taken from the next option; --workers 0 is
// refused.
func TestOptionsMistyped(t *testing.T) {
	r := runCmd(t, t.TempDir(), nil, "--every", "--dry-run")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "--every needs a value (DURATION), not the option --dry-run")
	r = runCmd(t, t.TempDir(), nil, "--workers", "0")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "--workers 0: want at least 1")
	r = runCmd(t, t.TempDir(), nil, "--only", "tokens")
	assert.Equal(t, 2, r.code)
	assert.NotContains(t, r.stderr, "invalid cleanup options", "the library's sentinel stays out of the command's words")
}

// --every says a warning once per process, and a signal mid-run is a
// clean stop (exit 0, no error record).
func TestEveryWarnsOnceAndStopsCleanly(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	e.SeedMix(t, 400, time.Now())
	cmd := exec.Command(binary, "--every", "1s", "--log-format", "json", "-v", "3", "--batch-size", "5", "--batch-interval", "0.05")
	cmd.Env = []string{"DATABASE_URL=" + e.URL, "CLEARTOKENS_RULES=dot-3.4"}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stderr)
	var recs []map[string]any
	runs, batchesInThird := 0, 0
	signalled := false
	for sc.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), "not a JSON record: %q", sc.Text())
		recs = append(recs, rec)
		switch rec["msg"] {
		case "run finished":
			runs++
			if runs == 2 {
				// The next run: fresh expired tokens, so that it has batches.
				e.SeedMix(t, 100, time.Now())
			}
		case "batch committed":
			if runs == 2 {
				batchesInThird++
				if batchesInThird == 2 && !signalled {
					require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
					signalled = true
				}
			}
		}
	}
	require.NoError(t, cmd.Wait(), "a signal is a clean stop")
	require.True(t, signalled, "the third run had batches")
	warnings := 0
	for _, rec := range recs {
		assert.NotEqual(t, "ERROR", rec["level"], "%v", rec)
		if rec["level"] == "WARN" {
			warnings++
		}
	}
	assert.Equal(t, 1, warnings, "the no-expiry warning once, not at every run")
	last := recs[len(recs)-1]
	assert.Contains(t, last["msg"], "stopping: signal received")
}

// --help is grouped as DOT's argparse groups it, every flag in a group
// (none left over), -v with --verbosity on one line, and Django options
// that do not apply hidden (still accepted: TestDjangoCommonOptions).
func TestHelpGrouped(t *testing.T) {
	bins := map[string]string{"cleartokens": binary}
	for _, name := range []string{"createapplication", "clearcimdapplications"} {
		bin, done := testcmd.Build(name, "../"+name)
		t.Cleanup(done)
		bins[name] = bin
	}
	for name, bin := range bins {
		r := testcmd.Run(t, bin, t.TempDir(), nil, "", "--help")
		require.Equal(t, 0, r.Code, r.Stderr)
		help := r.Stdout
		assert.Contains(t, help, "Django's common options:", name)
		assert.Contains(t, help, "\n  -v, --verbosity LEVEL\n", name)
		assert.NotContains(t, help, "Other options", "%s: every flag is in a group", name)
		assert.NotContains(t, help, "pythonpath", name)
		seen := map[string]int{}
		for _, line := range strings.Split(help, "\n") {
			if strings.HasPrefix(line, "  --") || strings.HasPrefix(line, "  -v,") {
				seen[strings.Fields(strings.TrimPrefix(line, "  -v,"))[0]]++
			}
		}
		assert.Greater(t, len(seen), 10, name)
		for flag, n := range seen {
			assert.Equal(t, 1, n, "%s: %s listed once", name, flag)
		}
	}
}

// On a terminal (tmux, read as a screen): the progress line says the step
// number of those that run, DOT's wording, rows, rate, time, percentage
// and time left; log records never share a line with it; each step's DOT
// line is printed as the step ends, after the rules line; at the end no
// progress line is left on the screen.
func TestProgressScreen(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux is not installed: no screen to read")
	}
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	e.InTx(t, func() {
		for i := 0; i < 60; i++ {
			e.Grant(t, time.Now().Add(-time.Hour))
			e.AccessToken(t, time.Now().Add(-time.Hour))
		}
	})
	sock := "oauthkit-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	t.Cleanup(func() { exec.Command(tmux, "-L", sock, "kill-server").Run() }) //nolint:errcheck
	const done = "RUN-IS-OVER"
	line := "env DATABASE_URL=" + e.URL + " REFRESH_TOKEN_EXPIRE_SECONDS=86400 " + binary +
		" -v 3 --rules dot-3.4 --only access,grant --batch-size 4 --batch-interval 0.05; echo " + done + "; sleep 60"
	out, err := exec.Command(tmux, "-L", sock, "new-session", "-d", "-x", "200", "-y", "50", line).CombinedOutput()
	require.NoError(t, err, string(out))
	screen := func() string {
		out, err := exec.Command(tmux, "-L", sock, "capture-pane", "-p").Output()
		require.NoError(t, err)
		return string(out)
	}
	var sawProgress bool
	deadline := time.Now().Add(2 * time.Minute)
	var final string
	for {
		s := screen()
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, "step ") && strings.Contains(l, " deleted, ") {
				sawProgress = true
				assert.Regexp(t, `^step [12]/2 Expired (access|grant) tokens: \d+ deleted, \d+ rows/s, \d+:\d\d`, l)
				assert.NotContains(t, l, "level=", "a log record mixed into the progress line: %q", l)
			}
		}
		if strings.Contains(s, done) {
			final = s
			break
		}
		require.True(t, time.Now().Before(deadline), "the run did not end:\n%s", s)
		time.Sleep(50 * time.Millisecond)
	}
	assert.True(t, sawProgress, "a progress line was on the screen")
	lines := strings.Split(final, "\n")
	idx := func(sub string) int {
		for i, l := range lines {
			if strings.Contains(l, sub) {
				return i
			}
		}
		return -1
	}
	rules, access, grants := idx("Rules dot-3.4"), idx("60 Expired access tokens deleted"), idx("60 Expired grant tokens deleted")
	require.True(t, rules >= 0 && access >= 0 && grants >= 0, "the rules and DOT's lines are on the screen:\n%s", final)
	assert.Less(t, rules, access, "the rules line comes before the work")
	assert.Less(t, access, grants)
	for _, l := range lines {
		assert.False(t, strings.HasPrefix(l, "step "), "no progress line is left: %q", l)
	}
}
