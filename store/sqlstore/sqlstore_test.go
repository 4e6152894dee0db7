package sqlstore_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
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

// A server on pgx hands its *sql.DB to sqlstore.New: the same suite.
func TestConformancePostgresPgx(t *testing.T) {
	sqlstoretest.PostgresURL(t)
	storetest.Run(t, sqlstoretest.PgxOpener())
}

// pgx's errors are read by SQLSTATE as lib/pq's are: a lock not
// available is transient (retried), a dropped table is a missing table, a
// read-only session is said as such, and the driver's text holds no row.
func TestPgxErrorsAreClassified(t *testing.T) {
	ctx := context.Background()
	base := sqlstoretest.New(t, sqlstore.DialectPostgres, sqlstoretest.DOTMain)
	base.Grant(t, time.Now().Add(-time.Hour))
	u, err := url.Parse(base.URL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("lock_timeout", "50") // ms: the row lock below is never waited out
	u.RawQuery = q.Encode()
	e := *base
	e.URL = u.String()
	pg := e.WithPgx(t)

	blocker := base.DB.MustBegin()
	_, err = blocker.Exec(`SELECT id FROM oauth2_provider_grant FOR UPDATE`)
	require.NoError(t, err)
	_, err = pg.Store.DeleteBatch(ctx, store.DeleteBatchParams{Target: store.GrantExpiredBefore, Cutoff: time.Now(), Max: 10})
	require.NoError(t, blocker.Rollback())
	require.Error(t, err)
	assert.ErrorIs(t, err, store.ErrTransient, "55P03 lock_not_available")

	base.Exec(t, `DROP TABLE oauth2_provider_pushedauthorizationrequest`)
	_, err = pg.Store.DeleteBatch(ctx, store.DeleteBatchParams{Target: store.PARExpiredBefore, Cutoff: time.Now(), Max: 10})
	assert.ErrorIs(t, err, store.ErrMissingTable, "42P01 undefined_table")

	q.Set("default_transaction_read_only", "on")
	u.RawQuery = q.Encode()
	e.URL = u.String()
	ro := e.WithPgx(t)
	assert.ErrorIs(t, ro.Store.CheckWritable(ctx), store.ErrReadOnly)
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

// A store that a caller keeps open survives a first call whose context was
// cancelled: what the MySQL dialect learns about the server (MariaDB or
// MySQL? a Galera node?) is read again by the next call, not remembered as
// the cancellation, and the store then cleans and locks as usual.
func TestMySQLFirstCancelledCallIsNotRemembered(t *testing.T) {
	sqlstoretest.MySQLURL(t)
	t.Parallel()
	env := sqlstoretest.New(t, sqlstore.DialectMySQL, sqlstoretest.DOT341)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := sqlstore.ServerKind(cancelled, env.Store)
	require.ErrorIs(t, err, context.Canceled)

	mariadb, galera, err := sqlstore.ServerKind(context.Background(), env.Store)
	require.NoError(t, err, "the second call must read the server again")
	assert.True(t, mariadb, "the test server is MariaDB")
	assert.False(t, galera, "the test server is no Galera node")
	u, err := env.Store.Lock(context.Background(), store.LockParams{Name: "after-cancel"})
	require.NoError(t, err)
	require.NoError(t, u.Unlock())
}

// The same on PostgreSQL: the server's version, which the first batch
// reads, is read again after a first batch whose context was cancelled,
// and the store then deletes as usual.
func TestPostgresFirstCancelledBatchIsNotRemembered(t *testing.T) {
	sqlstoretest.PostgresURL(t)
	t.Parallel()
	e := sqlstoretest.New(t, sqlstore.DialectPostgres, sqlstoretest.DOT341)
	now := time.Now()
	expired := e.AccessToken(t, now.Add(-time.Hour))
	live := e.AccessToken(t, now.Add(time.Hour))
	p := store.DeleteBatchParams{Target: store.AccessExpiredBefore, Cutoff: now, Max: 10}

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Store.DeleteBatch(cancelled, p)
	require.ErrorIs(t, err, context.Canceled)

	res, err := e.Store.DeleteBatch(context.Background(), p)
	require.NoError(t, err, "the second batch must read the server again")
	assert.EqualValues(t, 1, res.Deleted)
	assert.Equal(t, []int64{live}, e.IDs(t, "accesstoken"), "the expired token %d is gone, the live one stays", expired)
}
