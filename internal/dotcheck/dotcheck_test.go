// Package dotcheck runs a real django-oauth-toolkit beside oauthkit on
// identical databases that DOT's own migrations made and DOT's ORM
// filled, and compares what each leaves.
package dotcheck

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/application"
	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"

	_ "modernc.org/sqlite"
)

const python = "/usr/bin/python3"

func requireDOT(t *testing.T) {
	if exec.Command(python, "-c", "import oauth2_provider, django, psycopg2, MySQLdb").Run() != nil {
		if os.Getenv("OAUTHKIT_REQUIRE_DJANGO") == "1" {
			t.Fatal("OAUTHKIT_REQUIRE_DJANGO=1 but DOT is not importable (apt-get install python3-django-oauth-toolkit python3-psycopg2 python3-mysqldb)")
		}
		t.Skip("django-oauth-toolkit not installed (apt-get install python3-django-oauth-toolkit python3-psycopg2 python3-mysqldb)")
	}
}

func dot(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(python, append([]string{"dot.py"}, args...)...).CombinedOutput()
	require.NoError(t, err, string(out))
}

func snapshot(t *testing.T, db *sqlx.DB) map[string][]int64 {
	m := map[string][]int64{}
	for _, tbl := range []string{"accesstoken", "refreshtoken", "idtoken", "grant"} {
		ids := []int64{}
		require.NoError(t, db.Select(&ids, `SELECT id FROM oauth2_provider_`+tbl+` ORDER BY id`))
		m[tbl] = ids
	}
	var sources []int64
	require.NoError(t, db.Select(&sources, `SELECT COALESCE(source_refresh_token_id, 0) FROM oauth2_provider_accesstoken ORDER BY id`))
	m["source_refresh_token_id"] = sources
	return m
}

// DOT 1.7 (the version Debian ships) and oauthkit's dot-3.3 rules, chosen
// by auto from DOT's migrations, on identical databases: the same access
// tokens, refresh tokens and grants are left, with the same SET_NULLs.
// DOT before 3.0 has no ID-token step; oauthkit deletes expired ID tokens
// nothing points at, as DOT 3.x does, and nothing else.
func TestAgainstRealDOT(t *testing.T) {
	requireDOT(t)
	bin, cleanup := testcmd.Build("cleartokens", "../../cmd/cleartokens")
	defer cleanup()

	base := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	for _, dialect := range sqlstoretest.Dialects {
		for _, expire := range []int{86400, 0} {
			t.Run(string(dialect)+"/expire="+strconv.Itoa(expire), func(t *testing.T) {
				var dotDB, ourDB, ourURL string
				switch dialect {
				case sqlstore.DialectSQLite:
					dir := t.TempDir()
					dotDB, ourDB = filepath.Join(dir, "dot.sqlite3"), filepath.Join(dir, "ours.sqlite3")
					ourURL = "sqlite:" + ourDB
				case sqlstore.DialectMySQL:
					dotDB, ourDB = sqlstoretest.NewMySQLDatabase(t), sqlstoretest.NewMySQLDatabase(t)
					ourURL = ourDB
				default:
					dotDB, ourDB = sqlstoretest.NewPostgresSchema(t), sqlstoretest.NewPostgresSchema(t)
					ourURL = ourDB
				}
				dot(t, "seed", dotDB, base)
				dot(t, "seed", ourDB, base)
				dotHandle, ourHandle := open(t, dialect, dotDB), open(t, dialect, ourDB)
				require.Equal(t, snapshot(t, dotHandle), snapshot(t, ourHandle), "identical copies")
				dot(t, "clear", dotDB, strconv.Itoa(expire))
				expiredIDs := expiredUnreferencedIDTokens(t, dotHandle)
				r := testcmd.Run(t, bin, t.TempDir(), []string{"DATABASE_URL=" + ourURL, "REFRESH_TOKEN_EXPIRE_SECONDS=" + strconv.Itoa(expire),
					"CLEAR_EXPIRED_TOKENS_BATCH_SIZE=3"}, "", "-v", "2")
				require.Equal(t, 0, r.Code, r.Stderr)
				assert.Contains(t, r.Stderr, "Rules dot-3.3 (auto: highest applied oauth2_provider migration is 0005_")

				want, got := snapshot(t, dotHandle), snapshot(t, ourHandle)
				for _, k := range []string{"accesstoken", "refreshtoken", "grant", "source_refresh_token_id"} {
					assert.Equal(t, want[k], got[k], k)
				}
				assert.Equal(t, without(want["idtoken"], expiredIDs), got["idtoken"], "ID tokens: DOT 1.7's less the expired unreferenced ones")
				assert.Positive(t, len(expiredIDs))
			})
		}
	}
}

// createapplication on a table DOT 1.7 made: the row fits it, DOT loads
// and validates it, and since that DOT compares secrets in clear, the
// secret is stored as given (with a warning) and checks out both ways.
func TestCreateApplicationOnOldDOT(t *testing.T) {
	requireDOT(t)
	bin, cleanup := testcmd.Build("createapplication", "../../cmd/createapplication")
	defer cleanup()
	for _, dialect := range []sqlstore.Dialect{sqlstore.DialectSQLite, sqlstore.DialectMySQL} {
		t.Run(string(dialect), func(t *testing.T) {
			db, url := filepath.Join(t.TempDir(), "dot.sqlite3"), ""
			if dialect == sqlstore.DialectMySQL {
				db = sqlstoretest.NewMySQLDatabase(t)
				url = db
			} else {
				url = "sqlite:" + db
			}
			dot(t, "seed", db, time.Now().UTC().Format(time.RFC3339))

			r := testcmd.Run(t, bin, t.TempDir(), []string{"DATABASE_URL=" + url}, "", "confidential", "client-credentials",
				"--client-id", "legacy", "--name", "Legacy")
			require.Equal(t, 0, r.Code, r.Stderr)
			assert.Contains(t, r.Stderr, "hash_client_secret")
			m := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(r.Stdout)
			require.NotNil(t, m, r.Stdout)
			dot(t, "check-app", db, "legacy:"+m[1]+":Legacy")

			st, err := sqlstore.Open(context.Background(), url)
			require.NoError(t, err)
			defer st.Close()
			_, ok, err := application.VerifyClientSecret(context.Background(), st, "legacy", m[1])
			require.NoError(t, err)
			assert.True(t, ok)
			_, ok, err = application.VerifyClientSecret(context.Background(), st, "legacy", "wrong")
			require.NoError(t, err)
			assert.False(t, ok)
		})
	}
}

func open(t *testing.T, d sqlstore.Dialect, db string) *sqlx.DB {
	var h *sqlx.DB
	var err error
	switch d {
	case sqlstore.DialectSQLite:
		h, err = sqlx.Open("sqlite", "file:"+db)
	case sqlstore.DialectMySQL:
		ds, perr := sqlstore.ParseURL(db)
		require.NoError(t, perr)
		h, err = sqlx.Open("mysql", ds.DSN)
	default:
		h, err = sqlx.Open("postgres", db)
	}
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	return h
}

// expiredUnreferencedIDTokens lists, in a database DOT 1.7 has just
// cleaned, the ID tokens DOT 3.x's extra step deletes after the same
// access-token step: expired, and pointed at by no access token left.
func expiredUnreferencedIDTokens(t *testing.T, db *sqlx.DB) []int64 {
	var ids []int64
	require.NoError(t, db.Select(&ids, db.Rebind(`SELECT i.id FROM oauth2_provider_idtoken i WHERE i.expires < ?
AND NOT EXISTS (SELECT 1 FROM oauth2_provider_accesstoken a WHERE a.id_token_id = i.id) ORDER BY i.id`), nowArg(db)))
	return ids
}

func nowArg(db *sqlx.DB) any {
	switch db.DriverName() {
	case "sqlite":
		return sqlstore.DjangoSQLiteTime(time.Now())
	case "mysql":
		return time.Now().UTC().Format("2006-01-02 15:04:05.000000")
	}
	return time.Now()
}

func without(all, drop []int64) []int64 {
	gone := map[int64]bool{}
	for _, id := range drop {
		gone[id] = true
	}
	out := []int64{}
	for _, id := range all {
		if !gone[id] {
			out = append(out, id)
		}
	}
	return out
}
