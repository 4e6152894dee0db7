package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

var binary string

func TestMain(m *testing.M) {
	bin, cleanup := testcmd.Build("cleartokens", ".")
	binary = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

func runCmd(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	r := testcmd.Run(t, binary, dir, env, "", args...)
	return result{r.Stdout, r.Stderr, r.Code}
}

func past(d time.Duration) time.Time { return time.Now().Add(-d) }

func TestDOTOutputAndRows(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		at := e.AccessToken(t, past(48*time.Hour))
		e.RefreshToken(t, at, time.Time{})       // expired refresh token
		e.RefreshToken(t, 0, past(72*time.Hour)) // revoked
		live := e.AccessToken(t, time.Now().Add(time.Hour))
		e.AccessToken(t, past(time.Hour))
		e.IDToken(t, past(time.Hour))
		e.Grant(t, past(time.Minute))
		e.MarkMigrated(t, "0012_add_token_checksum")

		r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL, "REFRESH_TOKEN_EXPIRE_SECONDS=86400", "CLEAR_EXPIRED_TOKENS_BATCH_SIZE=1"})
		require.Equal(t, 0, r.code, r.stderr)
		want := "1 Revoked refresh tokens deleted\n1 Expired refresh tokens deleted\n2 Expired access tokens deleted\n1 Expired ID tokens deleted\n1 Expired grant tokens deleted\n"
		if e.Layout.AtLeast(sqlstoretest.DOTMain) {
			want += "0 Expired pushed authorization requests deleted\n"
		}
		assert.Equal(t, want, r.stdout)
		assert.Empty(t, r.stderr)
		assert.Equal(t, []int64{live}, e.IDs(t, "accesstoken"))
		assert.Empty(t, e.IDs(t, "refreshtoken"))
	})
}

func TestDOT34WarningAndJSON(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	e.RefreshToken(t, 0, time.Time{}) // orphan
	r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL}, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "Warning: REFRESH_TOKEN_EXPIRE_SECONDS is not set")
	var rep cleanup.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.Equal(t, cleanup.RulesDOT34, rep.Rules)
	require.Len(t, rep.Steps, 7)
	assert.Equal(t, cleanup.StepOrphanedRefresh, rep.Steps[1].Name)
	par := rep.Steps[6]
	assert.Equal(t, cleanup.StepExpiredPAR, par.Name)
	assert.True(t, par.Skipped, "DOT 3.4.1 has no pushed authorization request table")
	assert.Contains(t, par.SkipReason, "no pushed authorization request table")
	assert.EqualValues(t, 1, rep.Steps[1].Deleted)
	assert.Empty(t, e.IDs(t, "refreshtoken"))
}

func TestEmbeddedDefaultCreatesDatabase(t *testing.T) {
	dir := t.TempDir()
	r := runCmd(t, dir, nil)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "0 Expired access tokens deleted")
	_, err := os.Stat(filepath.Join(dir, "db.sqlite3"))
	require.NoError(t, err)
	// Second run finds the tables it made.
	r = runCmd(t, dir, nil)
	require.Equal(t, 0, r.code, r.stderr)
}

func TestSettingsPrecedence(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT301)
	e.Grant(t, past(time.Hour))
	dir := t.TempDir()
	file := filepath.Join(dir, "settings.env")
	require.NoError(t, os.WriteFile(file, []byte("# cleartokens settings\nCLEARTOKENS_RULES=dot-3.4\nCLEAR_EXPIRED_TOKENS_BATCH_SIZE=5\n"), 0o600))
	// File beats environment: the 3.4 rules print the orphan line.
	r := runCmd(t, dir, []string{"DATABASE_URL=" + e.URL, "CLEARTOKENS_RULES=dot-3.3"}, "--settings", file)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "Orphaned refresh tokens deleted")
	// Flag beats file.
	r = runCmd(t, dir, []string{"DATABASE_URL=" + e.URL}, "--settings", file, "--rules", "dot-3.3")
	require.Equal(t, 0, r.code, r.stderr)
	assert.NotContains(t, r.stdout, "Orphaned")
	// An unknown key in the file is an error, not silently ignored.
	require.NoError(t, os.WriteFile(file, []byte("CLEAR_EXPIRED_TOKEN_BATCH_SIZE=5\n"), 0o600))
	r = runCmd(t, dir, []string{"DATABASE_URL=" + e.URL}, "--settings", file)
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "unknown setting")
}

// badCase is one bad input: the environment and arguments given, the exit
// status and a part of the one line on stderr expected.
type badCase struct {
	name string
	env  []string
	args []string
	code int
	msg  string
}

func TestBadInput(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	e.Grant(t, past(time.Hour))
	empty := sqlstoretest.NewEmptySQLite(t)
	dir := t.TempDir()
	cases := []badCase{
		{"unknown flag", nil, []string{"--frobnicate"}, 2, "unrecognized option --frobnicate (see --help)"},
		{"stray argument", nil, []string{"now"}, 2, "unexpected argument"},
		{"bad batch size", []string{"CLEAR_EXPIRED_TOKENS_BATCH_SIZE=ten"}, nil, 2, "CLEAR_EXPIRED_TOKENS_BATCH_SIZE"},
		{"zero batch size", nil, []string{"--batch-size", "0"}, 2, "positive"},
		{"negative expiry", []string{"REFRESH_TOKEN_EXPIRE_SECONDS=-5"}, nil, 2, "must not be negative"},
		{"negative grace", nil, []string{"--refresh-token-grace-period-seconds=-1"}, 2, "must not be negative"},
		{"negative workers", nil, []string{"--workers", "-2"}, 2, "error: --workers -2: must not be negative\n"},
		{"negative row rate", nil, []string{"--max-rows-per-second", "-3"}, 2, "error: --max-rows-per-second -3: must not be negative\n"},
		{"every spins", nil, []string{"--every", "1ns"}, 2, "error: --every 1ns: must be at least 1s"},
		{"huge batch", nil, []string{"--batch-size", "9223372036854775807"}, 2, "must be at most 1000000"},
		{"huge expiry", nil, []string{"--refresh-token-expire-seconds", "99999999999"}, 2, "at most 3153600000 seconds (100 years)"},
		{"huge interval", nil, []string{"--batch-interval", "1e12"}, 2, "at most 3153600000 seconds"},
		{"many workers", nil, []string{"--workers", "1000"}, 2, "--workers 1000: must be at most 32"},
		{"listen without every", nil, []string{"--metrics-listen", "127.0.0.1:0"}, 2, "--metrics-listen serves metrics only in a long-lived process"},
		{"every with before", nil, []string{"--every", "1h", "--before", "2026-01-01"}, 2, "error: --before 2026-01-01T00:00:00Z: is fixed"},
		{"bad interval", []string{"CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL=soon"}, nil, 2, "seconds"},
		{"bad bool", []string{"REFRESH_TOKEN_REUSE_PROTECTION=maybe"}, nil, 2, "true or false"},
		{"bad rules", []string{"CLEARTOKENS_RULES=dot-2"}, nil, 2, "dot-3.3"},
		{"bad verbosity", nil, []string{"-v", "7"}, 2, "verbosity"},
		{"pythonpath", nil, []string{"--pythonpath", "/x"}, 2, "not applicable"},
		{"bad table name", nil, []string{"--table", "grant=grant; DROP TABLE x"}, 2, "invalid SQL identifier"},
		{"unknown table role", nil, []string{"--table", "tokens=x"}, 2, "unknown table role"},
		{"bad URL scheme", []string{"DATABASE_URL=oracle://db/x"}, nil, 2, "not supported"},
		{"missing sqlite file", []string{"DATABASE_URL=sqlite:" + filepath.Join(dir, "nope.db")}, nil, 1, "nope.db does not exist: name an existing database in DATABASE_URL, or add --create-schema"},
		{"missing tables", []string{"DATABASE_URL=sqlite:" + empty}, nil, 1, "table does not exist"},
		{"swapped table missing", []string{"DATABASE_URL=" + e.URL}, []string{"--table", "grant=myapp_grant"}, 1, "myapp_grant"},
		{"unreachable server", []string{"DATABASE_URL=postgres://u:hunter2@127.0.0.1:1/x?sslmode=disable"}, nil, 1, "cannot connect"},
		{"bad duration", nil, []string{"--statement-timeout", "soon"}, 2, `--statement-timeout "soon": not a duration: use h, m, s`},
		{"negative retries", nil, []string{"--retries", "-1"}, 2, "must not be negative"},
		{"wait and no-lock", nil, []string{"--wait", "--no-lock"}, 2, "cannot be used together"},
		{"settings file missing", nil, []string{"--settings", "/nonexistent/settings.env"}, 2, "no such file"},
		{"malformed postgres URL", []string{"DATABASE_URL=postgres://h:port/db"}, nil, 2, "port"},
	}
	if os.Getenv("OAUTHKIT_TEST_POSTGRES") != "" {
		cases = append(cases,
			badCase{"unknown role", []string{"DATABASE_URL=" + sqlstoretest.PostgresURLAs(t, "oauthkit_nobody", "test")}, nil, 1, `role "oauthkit_nobody" does not exist`},
			badCase{"unknown database", []string{"DATABASE_URL=" + sqlstoretest.PostgresURLAs(t, "postgres", "oauthkit_nodb")}, nil, 1, `database "oauthkit_nodb" does not exist`},
		)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, dir, tc.env, tc.args...)
			assert.Equal(t, tc.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, tc.msg)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line on stderr: %q", r.stderr)
			assert.Empty(t, r.stdout)
			assert.NotContains(t, r.stderr, "hunter2")
			assert.NotContains(t, r.stderr, "goroutine", "no stack trace")
		})
	}
	assert.Len(t, e.IDs(t, "grant"), 1, "nothing deleted by a failed run")
	_, err := os.Stat(filepath.Join(dir, "nope.db"))
	assert.True(t, os.IsNotExist(err), "a named database is never created")
	// The database without the tables was not given any.
	var tables []string
	require.NoError(t, sqlx.MustOpen("sqlite", "file:"+empty).Select(&tables, `SELECT name FROM sqlite_master WHERE type = 'table'`))
	assert.Equal(t, []string{"unrelated"}, tables)
}

// A read-only SQLite file: one clear line, exit 1, nothing deleted. The
// lock, taken on the database file itself, is what fails first, and says
// how to run without it; without the lock SQLite says the file is read-only.
func TestReadOnlySQLite(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	e.Grant(t, past(time.Hour))
	sqlstoretest.MakeReadOnly(t, e.Path())
	r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL, "REFRESH_TOKEN_EXPIRE_SECONDS=86400"})
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "(--no-lock runs without the single-runner lock)")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	r = runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL, "REFRESH_TOKEN_EXPIRE_SECONDS=86400"}, "--no-lock")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "readonly database")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	assert.Len(t, e.IDs(t, "grant"), 1)
}

func TestHelpAndVersion(t *testing.T) {
	r := runCmd(t, t.TempDir(), nil, "--help")
	assert.Equal(t, 0, r.code)
	assert.Empty(t, r.stderr)
	for _, key := range []string{"DATABASE_URL", "REFRESH_TOKEN_EXPIRE_SECONDS", "REFRESH_TOKEN_GRACE_PERIOD_SECONDS", "REFRESH_TOKEN_REUSE_PROTECTION",
		"CLEAR_EXPIRED_TOKENS_BATCH_SIZE", "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL", "CLEARTOKENS_RULES", "--traceback", "--settings", "--no-color"} {
		assert.Contains(t, r.stdout, key)
	}
	r = runCmd(t, t.TempDir(), nil, "--version")
	assert.Equal(t, 0, r.code)
	assert.NotEmpty(t, strings.TrimSpace(r.stdout))
}

func TestForceColorAndTraceback(t *testing.T) {
	dir := t.TempDir()
	r := runCmd(t, dir, nil, "--force-color")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "\x1b[32m0 Expired access tokens deleted\x1b[0m")
	r = runCmd(t, dir, []string{"DATABASE_URL=sqlite:" + sqlstoretest.NewEmptySQLite(t)}, "--traceback")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "caused by")
}

// SIGINT stops after the batch in flight: the rows left are exactly the
// ones no batch reached, and the report says what was done.
func TestInterruptStopsBetweenBatches(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT301)
	for i := 0; i < 20; i++ {
		e.Grant(t, past(time.Hour))
	}
	cmd := exec.Command(binary, "-v", "3", "--rules", "dot-3.3", "--batch-size", "2", "--batch-interval", "0.2")
	cmd.Env = []string{"DATABASE_URL=" + e.URL}
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stderr)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), "step=expired_grants") {
			require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
			break
		}
	}
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	err = cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	require.True(t, ok, "want exit status 1, got %v; stderr: %v", err, lines)
	assert.Equal(t, 1, ee.ExitCode())
	left := len(e.IDs(t, "grant"))
	assert.Less(t, left, 20)
	assert.Greater(t, left, 0, "the run stopped before the end")
	assert.Equal(t, 0, left%2, "whole batches of 2 only")
	assert.Contains(t, stdout.String(), strconv.Itoa(20-left)+" Expired grant tokens deleted")
	assert.Contains(t, strings.Join(lines, "\n"), "interrupted")
}
