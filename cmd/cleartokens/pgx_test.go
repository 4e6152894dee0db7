package main_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// The command built on pgx (-tags oauthkit_pgx, no lib/pq linked) does on
// PostgreSQL what the lib/pq build does: same lines, same rows left, on
// identical copies of each layout, dry run, lock and a missing table too.
func TestOnPgx(t *testing.T) {
	sqlstoretest.PostgresURL(t)
	pgxBinary, cleanup := testcmd.BuildTags("cleartokens", ".", "oauthkit_pgx")
	t.Cleanup(cleanup)
	for _, l := range sqlstoretest.Layouts {
		t.Run("dot-"+string(l), func(t *testing.T) {
			t.Parallel()
			base := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
			pq, pgx := sqlstoretest.New(t, sqlstore.DialectPostgres, l), sqlstoretest.New(t, sqlstore.DialectPostgres, l)
			pq.SeedMix(t, 300, base)
			pgx.SeedMix(t, 300, base)
			args := []string{"--before", base.Format(time.RFC3339), "--batch-size", "13", "--refresh-token-expire-seconds", "86400"}
			run := func(bin string, e *sqlstoretest.Env, extra ...string) testcmd.Result {
				return testcmd.Run(t, bin, t.TempDir(), []string{"DATABASE_URL=" + e.URL}, "", append(append([]string{}, args...), extra...)...)
			}
			dry := run(pgxBinary, pgx, "--dry-run")
			require.Equal(t, 0, dry.Code, dry.Stderr)
			a, b := run(binary, pq), run(pgxBinary, pgx)
			require.Equal(t, 0, a.Code, a.Stderr)
			require.Equal(t, 0, b.Code, b.Stderr)
			assert.Equal(t, a.Stdout, b.Stdout)
			assert.NotEmpty(t, b.Stdout)
			assert.Equal(t, pq.Snapshot(t), pgx.Snapshot(t))
			pgx.AssertNoDanglingKeys(t)
			assert.Len(t, dotLines(dry.Stdout), len(dotLines(b.Stdout)))
		})
	}
	e := sqlstoretest.New(t, sqlstore.DialectPostgres, sqlstoretest.DOT341)
	e.Exec(t, `DROP TABLE oauth2_provider_grant`)
	r := testcmd.Run(t, pgxBinary, t.TempDir(), []string{"DATABASE_URL=" + e.URL}, "")
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stderr, `grant table "oauth2_provider_grant": table does not exist`)
}
