package main_test

import (
	"bufio"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// tables lists the tables of a SQLite file.
func tables(t *testing.T, path string) []string {
	db := sqlx.MustOpen("sqlite", "file:"+path+"?mode=ro")
	defer db.Close()
	var names []string
	require.NoError(t, db.Select(&names, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`))
	return names
}

// The embedded default makes DOT's tables only in a file it creates: a
// Django project's db.sqlite3 without DOT's tables is not altered, nor is a
// table a --table typo names created.
func TestDefaultDatabaseIsNotAltered(t *testing.T) {
	dir := t.TempDir()
	db := sqlx.MustOpen("sqlite", "file:"+filepath.Join(dir, "db.sqlite3"))
	db.MustExec(`CREATE TABLE django_session (session_key varchar(40) PRIMARY KEY)`)
	db.Close()
	r := runCmd(t, dir, nil, "-v", "2")
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, `table "oauth2_provider_application": table does not exist`)
	assert.Contains(t, r.stderr, "--create-schema")
	assert.Equal(t, []string{"django_session"}, tables(t, filepath.Join(dir, "db.sqlite3")), "nothing added")

	// A typo in --table on a real DOT database: refused, no table made.
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	before := tables(t, e.Path())
	r = runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL}, "--table", "accesstoken=foo")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, `accesstoken table "foo": table does not exist`)
	assert.Equal(t, before, tables(t, e.Path()))

	// Nor on the default file: no file is made then.
	fresh := t.TempDir()
	r = runCmd(t, fresh, nil, "--table", "accesstoken=foo")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "db.sqlite3 does not exist")
	entries, _ := os.ReadDir(fresh)
	assert.Empty(t, entries)

	// With --create-schema the named table is made, as asked.
	r = runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL}, "--table", "accesstoken=foo", "--create-schema")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, tables(t, e.Path()), "foo")

	// A fresh folder: the default file is created with DOT's tables, and
	// -v 2 tells why the 3.4 rules apply in words that fit.
	r = runCmd(t, t.TempDir(), nil, "-v", "2")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stderr, "auto: no oauth2_provider migration recorded in django_migrations")
	assert.NotContains(t, r.stderr, "a database oauthkit created")
}

// The SQLite URL forms of dj-database-url and SQLAlchemy, and the default
// written out with the hint when the file is missing.
func TestSQLiteURLForms(t *testing.T) {
	dir := t.TempDir()
	r := runCmd(t, dir, []string{"DATABASE_URL=sqlite:db.sqlite3"})
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "the database file db.sqlite3 does not exist: name an existing database in DATABASE_URL, or add --create-schema")
	r = runCmd(t, dir, []string{"DATABASE_URL=sqlite:///db.sqlite3"}, "--create-schema")
	require.Equal(t, 0, r.code, r.stderr)
	_, err := os.Stat(filepath.Join(dir, "db.sqlite3"))
	require.NoError(t, err, "three slashes: relative to the working folder")
	abs := filepath.Join(t.TempDir(), "abs.sqlite3")
	r = runCmd(t, dir, []string{"DATABASE_URL=sqlite:///" + abs}, "--create-schema")
	require.Equal(t, 0, r.code, r.stderr)
	_, err = os.Stat(abs)
	require.NoError(t, err, "four slashes: absolute")
}

// Django's parser is argparse: -v0, -v=0, --verbosity=0, unique prefixes.
func TestArgparseHabits(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	env := []string{"DATABASE_URL=" + e.URL}
	for _, args := range [][]string{{"-v0"}, {"-v=0"}, {"--verbosity=0"}, {"--verb", "0"}, {"-v", "0"}} {
		r := runCmd(t, t.TempDir(), env, args...)
		assert.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
		assert.Empty(t, r.stdout, "%v is quiet", args)
	}
	e.Grant(t, time.Now().Add(-time.Hour))
	e.Grant(t, time.Now().Add(-time.Hour))
	r := runCmd(t, t.TempDir(), env, "--batch-si", "1", "--on=grant", "-v", "3")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "2 Expired grant tokens deleted")
	assert.Contains(t, r.stderr, "deleted=1 step_total=2", "--batch-si is --batch-size: one row per batch")

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--re", "x"}, "ambiguous option --re: could be --refresh-token-expire-seconds, --refresh-token-grace-period-seconds, --refresh-token-reuse-protection, --retries (see --help)"},
		{[]string{"--batch-size"}, "--batch-size needs a value (ROWS) (see --help)"},
		{[]string{"--keep-if-younger", "30d"}, `--keep-if-younger "30d": not a duration: use h, m, s (and ms), e.g. 720h for 30 days`},
		{[]string{"--retries=x"}, `--retries "x": not a whole number (see --help)`},
		{[]string{"-v", "x"}, `-v "x": not a whole number`},
		{[]string{"--batch-size", "-3"}, `CLEAR_EXPIRED_TOKENS_BATCH_SIZE="-3" (from --batch-size): want a positive whole number`},
		{[]string{"--nope"}, "unrecognized option --nope (see --help)"},
	} {
		r := runCmd(t, t.TempDir(), env, c.args...)
		assert.Equal(t, 2, r.code, c.args)
		assert.Contains(t, r.stderr, c.msg, c.args)
		assert.NotContains(t, r.stderr, "-batchsize")
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	}
}

// Every Django command takes --skip-checks; a Django settings module in
// --settings is explained; --version names the program; help shows every
// default and warns that a URL on the command line shows in the process list.
func TestDjangoCommonOptions(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	e.Exec(t, `DROP TABLE oauth2_provider_application`) // cleartokens does not use it
	r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL})
	assert.Equal(t, 1, r.code)
	r = runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL}, "--skip-checks")
	assert.Equal(t, 0, r.code, r.stderr)

	r = runCmd(t, t.TempDir(), nil, "--settings", "mysite.settings")
	assert.Equal(t, 2, r.code)
	assert.Contains(t, r.stderr, "--settings mysite.settings looks like a Django settings module, which oauthkit cannot read")
	assert.Contains(t, r.stderr, "environment")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"))

	r = runCmd(t, t.TempDir(), nil, "--version")
	assert.Regexp(t, `^cleartokens \S+`, r.stdout)

	r = runCmd(t, t.TempDir(), nil, "--help")
	require.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "process list")
	for _, want := range []string{"--batch-size ROWS", "(default 10000)", "(default auto)", "(default 5)", "--database-url URL", "(default sqlite:db.sqlite3",
		"--every DURATION", "(default text)", "--skip-checks"} {
		assert.Contains(t, r.stdout, want)
	}
	// Every option with a value shows an upper-case placeholder.
	for _, line := range strings.Split(r.stdout, "\n") {
		if m := regexp.MustCompile(`^  --?[a-z-]+ (\S+)$`).FindStringSubmatch(line); m != nil {
			assert.Regexp(t, `^[A-Z=]+$`, m[1], line)
		}
	}
}

// The DOT 3.4 warning about REFRESH_TOKEN_EXPIRE_SECONDS comes only when a
// refresh-token step runs.
func TestNoExpiryWarningOnlyForRefreshSteps(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL}, "--only", "grant")
	require.Equal(t, 0, r.code)
	assert.NotContains(t, r.stderr, "REFRESH_TOKEN_EXPIRE_SECONDS")
	r = runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL}, "--only", "refresh")
	assert.Contains(t, r.stderr, "REFRESH_TOKEN_EXPIRE_SECONDS")
}

// Interrupted while waiting for the lock: one honest line, no empty report.
func TestInterruptedWhileWaitingForLock(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	held, err := e.Store.Lock(t.Context(), lockParams())
	require.NoError(t, err)
	defer held.Unlock()
	cmd := exec.Command(binary, "--wait", "-v", "2")
	cmd.Env = []string{"DATABASE_URL=" + e.URL}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	sc := bufio.NewScanner(stderr)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	err = cmd.Wait()
	require.Error(t, err)
	out := strings.Join(lines, "\n")
	assert.Contains(t, out, "interrupted while waiting for the lock; nothing was deleted")
	assert.NotContains(t, out, "Rules (")
	assert.NotContains(t, out, "stopped after a whole batch")
}

// cron's "cleartokens >/dev/null": stderr is not a terminal, so the error
// it mails holds no colour escapes (/dev/null is a character device, which
// is not a terminal).
func TestNoColourIntoRedirectedStderr(t *testing.T) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer devnull.Close()
	cmd := exec.Command(binary)
	cmd.Env = []string{"DATABASE_URL=sqlite:/nonexistent/db.sqlite3"}
	cmd.Stdout = devnull
	var stderr strings.Builder
	cmd.Stderr = &stderr
	_ = cmd.Run()
	assert.Contains(t, stderr.String(), "does not exist")
	assert.NotContains(t, stderr.String(), "\x1b[")
}

// The JSON report is documented field by field in the README, and the
// documentation and the output agree: every field printed is documented
// with its type, and every documented field is printed.
func TestJSONMatchesREADME(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	e.Grant(t, time.Now().Add(-time.Hour))
	r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL}, "--json")
	require.Equal(t, 0, r.code, r.stderr)
	var obj map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &obj))
	got := jsonFields(obj, "")
	doc := testcmd.READMEJSONFields(t, "cleartokens")
	for f, kind := range got {
		if strings.HasSuffix(f, "cutoff") || strings.HasSuffix(f, "skip_reason") {
			continue // only some steps have them: checked below
		}
		assert.Equal(t, doc[f], kind, "field %s: documented type %q, printed %q", f, doc[f], kind)
	}
	for f := range doc {
		if f == "steps[].cutoff" {
			assert.Contains(t, r.stdout, `"cutoff":`)
			continue
		}
		_, ok := got[f]
		assert.True(t, ok, "documented field %s is not printed", f)
	}
	steps := obj["steps"].([]any)
	for _, s := range steps {
		st := s.(map[string]any)
		if st["name"] == "orphaned_refresh_tokens" {
			assert.NotContains(t, st, "cutoff", "no meaningless cutoff")
		}
	}
	_, ok := obj["duration_seconds"].(float64)
	assert.True(t, ok, "durations are in seconds")
}

// jsonFields flattens an object into "a", "b[].c" paths with JSON kinds.
func jsonFields(v any, prefix string) map[string]string {
	out := map[string]string{}
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = testcmd.JSONKind(val)
			if arr, ok := val.([]any); ok && len(arr) > 0 {
				if _, isObj := arr[0].(map[string]any); isObj {
					for _, el := range arr {
						for k2, v2 := range jsonFields(el, p+"[]") {
							out[k2] = v2
						}
					}
				}
			}
		}
	}
	return out
}

func lockParams() store.LockParams { return store.LockParams{Name: cleanup.LockName} }

// Pointed at a database that takes no writes (here a session forced
// read-only; a real streaming standby is tested with the replicas): one
// line that says so, exit 1; a dry run still works there.
func TestReadOnlyPostgres(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectPostgres, sqlstoretest.DOT341)
	e.Grant(t, time.Now().Add(-time.Hour))
	u, err := url.Parse(e.URL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("options", "-c default_transaction_read_only=on")
	u.RawQuery = q.Encode()
	r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + u.String()})
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "read-only")
	assert.Contains(t, r.stderr, "primary")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	r = runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + u.String()}, "--dry-run")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "1 Expired grant tokens to delete (dry run)")
	assert.Len(t, e.IDs(t, "grant"), 1)
}
