package main_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/application"
	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

var binary string

func TestMain(m *testing.M) {
	bin, cleanup := testcmd.Build("createapplication", ".")
	binary = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func run(t *testing.T, e *sqlstoretest.Env, env []string, stdin string, args ...string) testcmd.Result {
	t.Helper()
	if e != nil {
		env = append(env, "DATABASE_URL="+e.URL)
	}
	return testcmd.Run(t, binary, t.TempDir(), env, stdin, append([]string{"--hasher-iterations", "1000"}, args...)...)
}

func apps(t *testing.T, e *sqlstoretest.Env) int64 {
	return e.Int(t, `SELECT count(*) FROM oauth2_provider_application`)
}

func verify(t *testing.T, e *sqlstoretest.Env, clientID, secret string) bool {
	_, ok, err := application.VerifyClientSecret(context.Background(), e.Store, clientID, secret)
	require.NoError(t, err)
	return ok
}

var secretLine = regexp.MustCompile(`^client_secret: ([a-zA-Z0-9]{128})$`)

func TestCreatesLikeDOT(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		user := e.User(t)
		// Flags before, between and after the positional arguments, as argparse allows.
		r := run(t, e, nil, "", "--name", "Web", "confidential", "--user", strconv.FormatInt(user, 10), "authorization-code",
			"--redirect-uris", "https://web.example.com/cb https://web.example.com/cb2", "--client-id", "web")
		require.Equal(t, 0, r.Code, r.Stderr)
		lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
		require.Len(t, lines, 2)
		assert.Equal(t, "New application Web created successfully.", lines[0])
		m := secretLine.FindStringSubmatch(lines[1])
		require.NotNil(t, m, lines[1])
		assert.Empty(t, r.Stderr)
		assert.True(t, verify(t, e, "web", m[1]))
		assert.EqualValues(t, user, e.Int(t, `SELECT user_id FROM oauth2_provider_application WHERE client_id = 'web'`))
		var stored string
		require.NoError(t, e.DB.Get(&stored, `SELECT client_secret FROM oauth2_provider_application WHERE client_id = 'web'`))
		assert.Regexp(t, `^pbkdf2_sha256\$1000\$`, stored)
		if e.Layout.AtLeast(sqlstoretest.DOTMain) {
			// The columns DOT main added, at its model defaults.
			assert.EqualValues(t, 1, e.Int(t, `SELECT count(*) FROM oauth2_provider_application WHERE client_id = 'web' AND client_jwks = ''
AND client_jwks_uri = '' AND token_endpoint_auth_method = '' AND require_pushed_authorization_requests IS NULL`))
		}
		// The same again with --if-not-exists and the secret it printed:
		// the row is read back and found the same.
		again := run(t, e, nil, "", "--name", "Web", "confidential", "--user", strconv.FormatInt(user, 10), "authorization-code",
			"--redirect-uris", "https://web.example.com/cb https://web.example.com/cb2", "--client-id", "web", "--client-secret", m[1], "--if-not-exists")
		require.Equal(t, 0, again.Code, again.Stderr)
		assert.EqualValues(t, 1, apps(t, e))

		// No name: DOT names the application by its client_id. An empty
		// option counts as not given.
		r = run(t, e, nil, "", "public", "password", "--name", "", "--client-id", "")
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Regexp(t, `^New application [a-zA-Z0-9]{40} created successfully.\nclient_secret: [a-zA-Z0-9]{128}\n$`, r.Stdout)
		assert.EqualValues(t, 2, apps(t, e))
	})
}

func TestSecretSources(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(file, []byte("from-file\n"), 0o600))
	cases := []struct {
		id, secret string
		env        []string
		stdin      string
		args       []string
	}{
		{"flag", "from-flag", nil, "", []string{"--client-secret", "from-flag"}},
		{"env", "from-env", []string{"CLIENT_SECRET=from-env"}, "", nil},
		{"file", "from-file", nil, "", []string{"--client-secret-file", file}},
		{"stdin", "from-stdin", nil, "from-stdin\n", []string{"--client-secret-file", "-"}},
	}
	for _, tc := range cases {
		r := run(t, e, tc.env, tc.stdin, append([]string{"confidential", "client-credentials", "--client-id", tc.id}, tc.args...)...)
		require.Equal(t, 0, r.Code, "%s: %s", tc.id, r.Stderr)
		assert.Equal(t, "New application "+tc.id+" created successfully.\n", r.Stdout, "a given secret is never printed")
		assert.True(t, verify(t, e, tc.id, tc.secret), tc.id)
	}
	r := run(t, e, nil, "", "confidential", "password", "--client-secret", "a", "--client-secret-file", file)
	assert.Equal(t, 2, r.Code)
	assert.Contains(t, r.Stderr, "not both")
}

func TestUnhashedSecretForHS256(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT301)
	r := run(t, e, []string{"CLIENT_SECRET=signing-key"}, "", "confidential", "client-credentials", "--client-id", "hs", "--algorithm", "HS256", "--no-hash-client-secret")
	require.Equal(t, 0, r.Code, r.Stderr)
	var stored string
	var hashed bool
	require.NoError(t, e.DB.QueryRowx(`SELECT client_secret, hash_client_secret FROM oauth2_provider_application`).Scan(&stored, &hashed))
	assert.Equal(t, "signing-key", stored)
	assert.False(t, hashed)
}

func TestValidationErrors(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		r := run(t, e, []string{"CLIENT_SECRET=do-not-print-me"}, "", "public", "implicit", "--algorithm", "HS256", "--user", "99999",
			"--redirect-uris", "https://ok.example/cb http://bad.example/cb#x")
		assert.Equal(t, 1, r.Code)
		assert.Empty(t, r.Stdout)
		assert.Equal(t, `Please correct the following errors:
 - user: no user with id 99999 exists
 - redirect_uris: "http://bad.example/cb#x" has a fragment (#…), which RFC 6749 forbids in a redirect URI
 - algorithm: HS256 cannot be used by public clients or with the implicit and openid-hybrid grants
 - hash_client_secret: HS256 needs the secret stored unhashed (it is the signing key): use --no-hash-client-secret
`, r.Stderr)
		assert.NotContains(t, r.Stderr, "do-not-print-me")
		assert.Zero(t, apps(t, e), "nothing written")

		// client_id uniqueness comes last.
		require.Equal(t, 0, run(t, e, nil, "", "public", "password", "--client-id", "taken").Code)
		r = run(t, e, nil, "", "nope", "password", "--client-id", "taken")
		assert.Equal(t, 1, r.Code)
		assert.Regexp(t, `(?s)client_type: .*\n - client_id: an application with client_id "taken" already exists\n$`, r.Stderr)
	})
}

func TestSettingsFromEnvironment(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	r := run(t, e, nil, "", "public", "authorization-code", "--redirect-uris", "com.example.app:/oauth/cb")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, `scheme "com.example.app" is not allowed`)
	r = run(t, e, []string{"ALLOWED_REDIRECT_URI_SCHEMES=https com.example.app"}, "", "public", "authorization-code", "--redirect-uris", "com.example.app:/oauth/cb")
	assert.Equal(t, 0, r.Code, r.Stderr)

	r = run(t, e, nil, "", "confidential", "password", "--algorithm", "RS256")
	assert.Contains(t, r.Stderr, "OIDC_RSA_PRIVATE_KEY")
	r = run(t, e, []string{"OIDC_RSA_PRIVATE_KEY=-----BEGIN RSA PRIVATE KEY-----"}, "", "confidential", "password", "--algorithm", "RS256")
	assert.Equal(t, 0, r.Code, r.Stderr)

	r = run(t, e, nil, "", "public", "authorization-code", "--redirect-uris", "https://*.apps.example.com/cb")
	assert.Contains(t, r.Stderr, "ALLOW_URI_WILDCARDS")
	r = run(t, e, []string{"ALLOW_URI_WILDCARDS=true"}, "", "public", "authorization-code", "--redirect-uris", "https://*.apps.example.com/cb")
	assert.Equal(t, 0, r.Code, r.Stderr)

	r = run(t, e, []string{"CLIENT_SECRET_GENERATOR_LENGTH=64"}, "", "public", "password")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Regexp(t, `client_secret: [a-zA-Z0-9]{64}\n$`, r.Stdout)
}

func TestJSONAndIfNotExists(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	r := run(t, e, nil, "", "--json", "confidential", "password", "--client-id", "svc", "--name", "Svc")
	require.Equal(t, 0, r.Code, r.Stderr)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &got))
	assert.Equal(t, "svc", got["client_id"])
	assert.Equal(t, "Svc", got["name"])
	secret, _ := got["client_secret"].(string)
	assert.Len(t, secret, 128)

	r = run(t, e, []string{"CLIENT_SECRET=" + secret}, "", "--json", "confidential", "password", "--client-id", "svc", "--name", "Svc", "--if-not-exists")
	require.Equal(t, 0, r.Code, r.Stderr)
	got = nil
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &got))
	assert.Equal(t, true, got["existed"])
	assert.NotContains(t, got, "client_secret")

	r = run(t, e, nil, "", "confidential", "password", "--client-id", "svc", "--name", "Svc", "--if-not-exists")
	assert.Equal(t, 0, r.Code, r.Stderr)
	assert.Equal(t, "Application Svc already exists with the same settings.\n", r.Stdout)

	r = run(t, e, nil, "", "public", "password", "--client-id", "svc", "--name", "Svc", "--if-not-exists")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "exists with different settings: client_type")
	assert.EqualValues(t, 1, apps(t, e))
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

func TestBadUsage(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	empty := sqlstoretest.NewEmptySQLite(t)
	cases := []badCase{
		{"no arguments", nil, nil, 2, "the following arguments are required: client_type, authorization_grant_type"},
		{"one argument", nil, []string{"public"}, 2, "required: authorization_grant_type"},
		{"three arguments", nil, []string{"public", "password", "extra"}, 2, `unexpected argument "extra"`},
		{"unknown flag", nil, []string{"--frob", "public", "password"}, 2, "unrecognized option --frob (see --help)"},
		{"if-not-exists without id", nil, []string{"--if-not-exists", "public", "password"}, 2, "needs a client_id"},
		{"bad iterations", nil, []string{"--hasher-iterations", "-5", "public", "password"}, 2, "hasher iterations -5: want 1 to 3000000"},
		{"bad secret length", []string{"CLIENT_SECRET_GENERATOR_LENGTH=big"}, []string{"public", "password"}, 2, "CLIENT_SECRET_GENERATOR_LENGTH"},
		{"bad wildcard bool", []string{"ALLOW_URI_WILDCARDS=perhaps"}, []string{"public", "password"}, 2, "true or false"},
		{"missing secret file", nil, []string{"--client-secret-file", "/nonexistent/secret", "public", "password"}, 2, "no such file"},
		{"pythonpath", nil, []string{"--pythonpath", "x", "public", "password"}, 2, "not applicable"},
		{"bad URL", []string{"DATABASE_URL=oracle://x"}, []string{"public", "password"}, 2, "not supported"},
		{"missing tables", []string{"DATABASE_URL=sqlite:" + empty}, []string{"public", "password"}, 1, "table does not exist"},
		{"unreachable", []string{"DATABASE_URL=postgres://u:hunter2@127.0.0.1:1/x?sslmode=disable"}, []string{"public", "password"}, 1, "cannot connect"},
		{"invalid table name", []string{"DATABASE_URL=" + e.URL}, []string{"--table", "application=apps;drop", "public", "password"}, 2, "invalid SQL identifier"},
		{"unknown table role", nil, []string{"--table", "apps=x", "public", "password"}, 2, "unknown table role"},
		{"settings file missing", nil, []string{"--settings", "/nonexistent", "public", "password"}, 2, "no such file"},
	}
	if os.Getenv("OAUTHKIT_TEST_POSTGRES") != "" {
		cases = append(cases, badCase{"unknown role", []string{"DATABASE_URL=" + sqlstoretest.PostgresURLAs(t, "oauthkit_nobody", "test")}, []string{"public", "password"}, 1, `role "oauthkit_nobody" does not exist`})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, tc.env, "", tc.args...)
			assert.Equal(t, tc.code, r.Code, r.Stderr)
			assert.Contains(t, r.Stderr, tc.msg)
			assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line on stderr: %q", r.Stderr)
			assert.Empty(t, r.Stdout)
			assert.NotContains(t, r.Stderr, "hunter2")
		})
	}
	// Rules broken in the values: exit 1, the errors listed, nothing written.
	for _, args := range [][]string{
		{"confidential", "password", "--algorithm", "ES512"},
		{"public", "authorization-code", "--redirect-uris", "https://ok.example/cb not-a-uri"},
		{"public", "authorization-code", "--redirect-uris", "http://"},
		{"public", "password", "--post-logout-redirect-uris", "file:///etc/passwd"},
	} {
		r := run(t, e, nil, "", args...)
		assert.Equal(t, 1, r.Code, "%v: %s", args, r.Stderr)
		assert.True(t, strings.HasPrefix(r.Stderr, "Please correct the following errors:\n - "), "%v: %s", args, r.Stderr)
		assert.Empty(t, r.Stdout)
	}
	assert.Zero(t, apps(t, e))
	r := run(t, nil, nil, "", "--help")
	assert.Equal(t, 0, r.Code)
	for _, s := range []string{"--client-id", "--user", "--redirect-uris", "--post-logout-redirect-uris", "--client-secret", "--no-hash-client-secret",
		"--name", "--skip-authorization", "--algorithm", "--client-secret-file", "--json", "--if-not-exists", "--hasher-iterations", "--skip-checks",
		"urn:ietf:params:oauth:grant-type:device_code"} {
		assert.Contains(t, r.Stdout, s)
	}
}

func TestReadOnlySQLite(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	sqlstoretest.MakeReadOnly(t, e.Path())
	r := run(t, e, []string{"CLIENT_SECRET=never-shown"}, "", "public", "password")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "readonly database")
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), r.Stderr)
	assert.NotContains(t, r.Stderr, "never-shown")
	assert.Zero(t, apps(t, e))
}

// The embedded default works with no settings at all.
func TestEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	r := testcmd.Run(t, binary, dir, nil, "", "--hasher-iterations", "1000", "public", "password", "--name", "first")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "New application first created successfully.")
	_, err := os.Stat(filepath.Join(dir, "db.sqlite3"))
	assert.NoError(t, err)
}

// At the highest verbosity the library logs its steps; neither a given nor
// a generated secret appears in them.
func TestVerboseLogsHoldNoSecret(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	r := run(t, e, []string{"CLIENT_SECRET=given-secret-value"}, "", "-v", "3", "confidential", "password", "--client-id", "a")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stderr, "hashed the client secret")
	assert.NotContains(t, r.Stderr+r.Stdout, "given-secret-value")
	r = run(t, e, nil, "", "-v", "3", "confidential", "password", "--client-id", "b")
	require.Equal(t, 0, r.Code, r.Stderr)
	m := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(r.Stdout)
	require.NotNil(t, m)
	assert.NotContains(t, r.Stderr, m[1], "the generated secret is on stdout only")
}

// --skip-checks skips the check of every table: a database that lacks a
// table createapplication does not use (the grant table) then works, and
// one without the application table still fails with one line.
func TestSkipChecks(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	e.Exec(t, `DROP TABLE oauth2_provider_grant`)
	r := run(t, e, nil, "", "public", "password")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, `grant table "oauth2_provider_grant": table does not exist`)
	assert.Empty(t, e.IDs(t, "application"), "nothing written")
	r = run(t, e, nil, "", "--skip-checks", "public", "password")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Len(t, e.IDs(t, "application"), 1)

	empty := sqlstoretest.NewEmptySQLite(t)
	r = run(t, nil, []string{"DATABASE_URL=sqlite:" + empty}, "", "--skip-checks", "public", "password")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, `application table "oauth2_provider_application": table does not exist`)
	assert.Equal(t, 1, strings.Count(strings.TrimSpace(r.Stderr), "\n")+1, "one line")
}
