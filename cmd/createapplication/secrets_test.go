package main_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// A property: whatever the password and however the URL carries it,
// nothing createapplication prints holds it.
func TestNoPasswordInAnyOutput(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 17))
	dir := t.TempDir()
	for i := 0; i < 12; i++ {
		pw := testcmd.RandomPassword(rng)
		for _, u := range testcmd.URLsWithPassword(pw) {
			settings := filepath.Join(dir, "settings.env")
			require.NoError(t, os.WriteFile(settings, []byte("DATABASE_URL="+u+"\n"), 0o600))
			for _, r := range []testcmd.Result{
				run(t, nil, []string{"DATABASE_URL=" + u}, "", "--traceback", "-v", "3", "public", "password"),
				run(t, nil, nil, "", "--database-url", u, "--json", "confidential", "client-credentials"),
				run(t, nil, nil, "", "--settings", settings, "--traceback", "public", "password"),
			} {
				assert.NotEqual(t, 0, r.Code, "%s: nothing listens there", u)
				assert.False(t, strings.Contains(r.Stdout+r.Stderr, pw), "the password %q shows:\n%s%s", pw, r.Stdout, r.Stderr)
			}
		}
	}
}

// A client secret that already is a Django hash is stored as it is; one
// whose cost parameters would stall or crash every verifier is refused
// with exit 1 and nothing written.
func TestRefusesCostlyPreHashedSecret(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	for _, secret := range []string{
		"argon2$argon2id$v=19$m=4294967295,t=2,p=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"scrypt$1073741824$salt$8$1$aGFzaA==",
		"pbkdf2_sha256$2000000000$salt$aGFzaA==",
		"bcrypt_sha256$$2b$31$abcdefghijklmnopqrstuu5EjvkT9o9bYx0p6m/3TxP8.7bWJxVtG",
	} {
		r := run(t, e, []string{"CLIENT_SECRET=" + secret}, "", "confidential", "client-credentials")
		assert.Equal(t, 1, r.Code, r.Stderr)
		assert.Contains(t, r.Stderr, "client_secret: is already a password hash, but one that cannot be verified: its cost parameters are out of range")
	}
	assert.Zero(t, apps(t, e), "nothing written")
}

// A secret or key file is read up to 64 KiB: /dev/zero, a huge file or a
// flood on stdin is one line and exit 2, nothing written, no process dying.
func TestInputFilesAreBounded(t *testing.T) {
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	big := filepath.Join(t.TempDir(), "big")
	require.NoError(t, os.WriteFile(big, []byte(strings.Repeat("k", 70<<10)), 0o600))
	for _, c := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{"--client-secret-file", "/dev/zero"}},
		{"", []string{"--client-secret-file", big}},
		{strings.Repeat("s", 70<<10), []string{"--client-secret-file", "-"}},
		{"", []string{"--algorithm", "RS256", "--oidc-rsa-private-key-file", "/dev/zero"}},
	} {
		r := run(t, e, nil, c.stdin, append([]string{"confidential", "client-credentials"}, c.args...)...)
		assert.Equal(t, 2, r.Code, "%v: %s", c.args, r.Stderr)
		assert.Contains(t, r.Stderr, "holds more than 64 KiB", c.args)
		assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), r.Stderr)
		assert.EqualValues(t, 0, apps(t, e))
	}
}
