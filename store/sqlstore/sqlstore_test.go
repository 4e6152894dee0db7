package sqlstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
	"github.com/oauthkit/oauthkit/store/storetest"
)

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, sqlstoretest.Opener(sqlstore.DialectSQLite))
}

func TestConformancePostgres(t *testing.T) {
	sqlstoretest.PostgresURL(t)
	storetest.Run(t, sqlstoretest.Opener(sqlstore.DialectPostgres))
}

// The walk by id serves PostgreSQL servers older than 14; run the suite on it too.
func TestConformancePostgresIDWalk(t *testing.T) {
	sqlstoretest.PostgresURL(t)
	storetest.Run(t, sqlstoretest.Opener(sqlstore.DialectPostgres, sqlstore.WalkByPrimaryKey()))
}

// Why the SET_NULL matters on PostgreSQL: DOT's foreign keys are live and
// deferred, so deleting a refresh token that an access token still names
// as its source fails at COMMIT, not at the DELETE.
func TestPostgresDeferredForeignKey(t *testing.T) {
	for _, l := range sqlstoretest.Layouts {
		e := sqlstoretest.New(t, sqlstore.DialectPostgres, l)
		r1 := e.RefreshToken(t, 0, time.Now().Add(-time.Hour))
		b := e.AccessToken(t, time.Now().Add(time.Hour))
		e.Link(t, "accesstoken", b, "source_refresh_token_id", r1)
		tx := e.DB.MustBegin()
		_, err := tx.Exec(`DELETE FROM oauth2_provider_refreshtoken WHERE id = $1`, r1)
		require.NoError(t, err, "deferred: the DELETE itself passes")
		require.Error(t, tx.Commit(), "COMMIT must fail on the dangling source_refresh_token_id")
	}
}

func TestConformanceMySQL(t *testing.T) {
	sqlstoretest.MySQLURL(t)
	storetest.Run(t, sqlstoretest.Opener(sqlstore.DialectMySQL))
}
