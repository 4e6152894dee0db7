package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// seedPAR writes expired and live pushed authorization requests around
// now and returns the ids of the live ones (the first expires exactly at
// now, which DOT's strict comparison keeps).
func seedPAR(t *testing.T, e *sqlstoretest.Env, now time.Time, expired int) (live []int64) {
	e.InTx(t, func() {
		for i := 0; i < expired; i++ {
			e.PAR(t, now.Add(-time.Duration(i+1)*time.Second))
			if i%2 == 0 {
				live = append(live, e.PAR(t, now.Add(time.Duration(i)*time.Minute)))
			}
		}
	})
	return live
}

// expiredPAR counts the requests in table that expired before now.
func expiredPAR(t *testing.T, e *sqlstoretest.Env, table string, now time.Time) int64 {
	return e.Int(t, `SELECT count(*) FROM `+table+` WHERE expires < ?`, e.Time(now))
}

// On a database DOT main migrated, cleartokens runs DOT main's seventh
// step: its line last, in DOT main's wording, exactly the expired requests
// gone, and the metrics file names the step; on every database.
func TestDOTMainPushedAuthorizationRequests(t *testing.T) {
	for _, d := range sqlstoretest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := sqlstoretest.New(t, d, sqlstoretest.DOTMain)
			now := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
			e.SeedMix(t, 60, now)
			live := seedPAR(t, e, now, 9)
			want := expiredPAR(t, e, "oauth2_provider_pushedauthorizationrequest", now)
			require.GreaterOrEqual(t, want, int64(9))
			e.MarkMigrated(t, "0022_refreshtoken_token_family_index", "0025_pushed_authorization_requests")
			metricsFile := filepath.Join(t.TempDir(), "cleartokens.prom")
			r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL, "REFRESH_TOKEN_EXPIRE_SECONDS=86400"}, "-v", "2", "--before", now.Format(time.RFC3339),
				"--batch-size", "4", "--metrics-textfile", metricsFile)
			require.Equal(t, 0, r.code, r.stderr)
			lines := dotLines(r.stdout)
			require.Len(t, lines, 7, r.stdout)
			assert.Equal(t, strconv.FormatInt(want, 10)+" Expired pushed authorization requests deleted", lines[6])
			assert.Contains(t, r.stderr, "Rules dot-3.4 (auto: highest applied oauth2_provider migration is 0025_pushed_authorization_requests")
			left := e.IDs(t, "pushedauthorizationrequest")
			assert.Subset(t, left, live, "live requests stay")
			assert.Zero(t, expiredPAR(t, e, "oauth2_provider_pushedauthorizationrequest", now), "no expired request is left")
			metrics, err := os.ReadFile(metricsFile)
			require.NoError(t, err)
			assert.Contains(t, string(metrics), `oauthkit_cleartokens_rows_deleted{dry_run="false",step="expired_pushed_authorization_requests"} `+strconv.FormatInt(want, 10))
		})
	}
}

// A DOT release's database has no PAR table: the step is skipped, said at
// -v 2, and DOT 3.4.1's six lines are printed as before.
func TestPushedAuthorizationRequestsSkippedOnReleases(t *testing.T) {
	for _, l := range []sqlstoretest.Layout{sqlstoretest.DOT301, sqlstoretest.DOT341} {
		e := sqlstoretest.New(t, "sqlite", l)
		r := runCmd(t, t.TempDir(), []string{"DATABASE_URL=" + e.URL}, "-v", "2", "--rules", "dot-3.4")
		require.Equal(t, 0, r.code, r.stderr)
		assert.Len(t, dotLines(r.stdout), 5, "no line for a step the database has no table for: %s", r.stdout)
		assert.NotContains(t, r.stdout, "pushed")
		assert.Contains(t, r.stderr, "No expired pushed authorization requests deleted: the database has no pushed authorization request table")
	}
}

// A swapped PAR model (OAUTH2_PROVIDER_PAR_REQUEST_MODEL) is named with
// --table par=NAME (or DOT's model name as the role); a named table that
// does not exist is an error, not a silently skipped step.
func TestPushedAuthorizationRequestsSwappedTable(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOTMain)
	now := time.Now().UTC().Truncate(time.Second)
	seedPAR(t, e, now, 6)
	e.Exec(t, `ALTER TABLE oauth2_provider_pushedauthorizationrequest RENAME TO myapp_par`)
	env := []string{"DATABASE_URL=" + e.URL}

	dry := runCmd(t, t.TempDir(), env, "--table", "pushedauthorizationrequest=myapp_par", "--only", "par", "--dry-run", "--before", now.Format(time.RFC3339))
	require.Equal(t, 0, dry.code, dry.stderr)
	assert.Equal(t, []string{"6 Expired pushed authorization requests to delete (dry run)"}, dotLines(dry.stdout))

	r := runCmd(t, t.TempDir(), env, "--table", "par=myapp_par", "--only", "par", "--before", now.Format(time.RFC3339))
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, []string{"6 Expired pushed authorization requests deleted"}, dotLines(r.stdout))
	assert.Zero(t, expiredPAR(t, e, "myapp_par", now))
	assert.EqualValues(t, 3, e.Int(t, `SELECT count(*) FROM myapp_par`), "the live ones stay")

	bad := runCmd(t, t.TempDir(), env, "--table", "par=nosuch_par")
	assert.Equal(t, 1, bad.code)
	assert.Contains(t, bad.stderr, `par table "nosuch_par"`)
	assert.Empty(t, bad.stdout)
}
