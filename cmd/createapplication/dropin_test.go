package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// DOT writes its two lines with self.stdout.write, which Django's
// verbosity does not silence: at -v 0 the generated secret still shows.
func TestQuietStillPrintsTheSecret(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	for _, v := range [][]string{{"-v0"}, {"-v=0"}, {"--verbosity=0"}, {"-v", "0"}} {
		r := run(t, e, nil, "", append([]string{"public", "password", "--name", "P0"}, v...)...)
		require.Equal(t, 0, r.Code, r.Stderr)
		assert.Regexp(t, `^New application P0 created successfully.\nclient_secret: [a-zA-Z0-9]{128}\n$`, r.Stdout, v)
	}
}

// --json always carries the id, also when --if-not-exists finds the
// application; and the object is exactly what the README documents.
func TestJSONAlwaysHasIDAndMatchesREADME(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	r := run(t, e, nil, "", "--json", "confidential", "client-credentials", "--client-id", "svc")
	require.Equal(t, 0, r.Code, r.Stderr)
	var first map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &first))
	r = run(t, e, []string{"CLIENT_SECRET=x"}, "", "--json", "--if-not-exists", "confidential", "client-credentials", "--client-id", "svc2")
	require.Equal(t, 0, r.Code, r.Stderr)
	r = run(t, e, []string{"CLIENT_SECRET=x"}, "", "--json", "--if-not-exists", "confidential", "client-credentials", "--client-id", "svc2")
	require.Equal(t, 0, r.Code, r.Stderr)
	var again map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &again))
	assert.Equal(t, true, again["existed"])
	assert.EqualValues(t, e.Int(t, `SELECT id FROM oauth2_provider_application WHERE client_id = 'svc2'`), again["id"])

	doc := testcmd.READMEJSONFields(t, "createapplication")
	for k, v := range first {
		assert.Equal(t, doc[k], testcmd.JSONKind(v), "field %s", k)
	}
	for k := range doc {
		_, ok := first[k]
		assert.True(t, ok, "documented field %s is printed when the secret is generated", k)
	}
	_, ok := again["client_secret"]
	assert.False(t, ok, "no client_secret when none was generated")
}

// argparse's habits: unique prefixes of long options.
func TestPrefixes(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	r := run(t, e, nil, "", "public", "password", "--client-i", "pre", "--skip-auth")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.EqualValues(t, 1, e.Int(t, `SELECT skip_authorization FROM oauth2_provider_application WHERE client_id = 'pre'`))
	r = run(t, e, nil, "", "public", "password", "--n", "x")
	assert.Equal(t, 2, r.Code)
	assert.Contains(t, r.Stderr, "ambiguous option --n: could be --name, --no-color, --no-hash-client-secret")
}

// The OIDC private key stays off the command line: it comes from the
// environment, the settings file, or a file named by an option.
func TestOIDCKeyFromFile(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	r := run(t, e, nil, "", "confidential", "password", "--algorithm", "RS256", "--client-id", "a")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, "OIDC_RSA_PRIVATE_KEY")
	key := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(key, []byte("-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"), 0o600))
	r = run(t, e, nil, "", "confidential", "password", "--algorithm", "RS256", "--client-id", "b", "--oidc-rsa-private-key-file", key)
	assert.Equal(t, 0, r.Code, r.Stderr)
	r = run(t, e, []string{"OIDC_RSA_PRIVATE_KEY=pem"}, "", "confidential", "password", "--algorithm", "RS256", "--client-id", "c")
	assert.Equal(t, 0, r.Code, r.Stderr)
	r = run(t, e, nil, "", "--help")
	assert.NotContains(t, r.Stdout, "--oidc-rsa-private-key KEY")
	assert.NotRegexp(t, regexp.MustCompile(`(?m)^  --oidc-rsa-private-key\b[^-]`), r.Stdout)
	assert.Contains(t, r.Stdout, "--oidc-rsa-private-key-file PATH")
	r = run(t, e, nil, "", "--version")
	assert.Regexp(t, `^createapplication \S+`, r.Stdout)
}

// Redirect URIs separated by commas: stored (one valid URI to DOT) but
// with a warning that names the space-separated form.
func TestCommaSeparatedRedirectURIsWarn(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	r := run(t, e, nil, "", "public", "authorization-code", "--redirect-uris", "https://a.example/cb,https://a.example/cb2")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stderr, `Warning: redirect_uris: "https://a.example/cb,https://a.example/cb2" looks like several URIs separated by commas; DOT separates them with spaces: "https://a.example/cb https://a.example/cb2"`)
	r = run(t, e, nil, "", "public", "authorization-code", "--redirect-uris", "https://a.example/cb https://a.example/cb2")
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.NotContains(t, r.Stderr, "Warning")
}
