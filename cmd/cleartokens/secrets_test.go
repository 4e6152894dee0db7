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
)

// A property: whatever the password and however the URL carries it (in
// the environment, a flag or a settings file; --traceback and -v 3 on),
// nothing cleartokens prints holds it.
func TestNoPasswordInAnyOutput(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	dir := t.TempDir()
	for i := 0; i < 12; i++ {
		pw := testcmd.RandomPassword(rng)
		for _, u := range testcmd.URLsWithPassword(pw) {
			settings := filepath.Join(dir, "settings.env")
			require.NoError(t, os.WriteFile(settings, []byte("DATABASE_URL="+u+"\n"), 0o600))
			for _, r := range []result{
				runCmd(t, dir, []string{"DATABASE_URL=" + u}, "--traceback", "-v", "3"),
				runCmd(t, dir, nil, "--database-url", u, "--traceback", "--json"),
				runCmd(t, dir, nil, "--settings", settings, "--traceback", "--dry-run"),
				runCmd(t, dir, nil, "--database-url", u, "--every", "1h", "--log-format", "json"),
			} {
				assert.NotEqual(t, 0, r.code, "%s: nothing listens there", u)
				out := r.stdout + r.stderr
				assert.False(t, strings.Contains(out, pw), "the password %q shows:\n%s", pw, out)
			}
		}
	}
}
