package main_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// Built on pgx (-tags oauthkit_pgx), createapplication writes a row the
// verifier accepts, refuses a taken client_id (a unique violation read by
// SQLSTATE) and --if-not-exists finds the row, on every layout.
func TestOnPgx(t *testing.T) {
	sqlstoretest.PostgresURL(t)
	pgxBinary, cleanup := testcmd.BuildTags("createapplication", ".", "oauthkit_pgx")
	t.Cleanup(cleanup)
	for _, l := range sqlstoretest.Layouts {
		e := sqlstoretest.New(t, sqlstore.DialectPostgres, l)
		env := []string{"DATABASE_URL=" + e.URL}
		args := []string{"confidential", "client-credentials", "--client-id", "pgx-app", "--hasher-iterations", "1000"}
		r := testcmd.Run(t, pgxBinary, t.TempDir(), env, "", args...)
		require.Equal(t, 0, r.Code, r.Stderr)
		lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
		require.Len(t, lines, 2)
		m := secretLine.FindStringSubmatch(lines[1])
		require.NotNil(t, m, r.Stdout)
		assert.True(t, verify(t, e, "pgx-app", m[1]), "layout %s", l)

		dup := testcmd.Run(t, pgxBinary, t.TempDir(), env, "", args...)
		assert.Equal(t, 1, dup.Code)
		assert.Contains(t, dup.Stderr, "client_id")
		again := testcmd.Run(t, pgxBinary, t.TempDir(), env, "", append(args, "--client-secret", m[1], "--if-not-exists")...)
		assert.Equal(t, 0, again.Code, again.Stderr)
		assert.EqualValues(t, 1, apps(t, e))
	}
}
