package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// A refresh-token batch that follows the access token's expiry locks that
// access token with the refresh token. A server that extends the access
// token (DOT does, refreshing without rotation) while the batch runs makes
// the batch wait, and the batch then reads the new expiry and keeps the
// refresh token, in that same batch: it neither deletes on the expiry the
// server was replacing nor has to be rolled back and run again.
func TestMySQLRefreshBatchWaitsForAnAccessTokenBeingExtended(t *testing.T) {
	sqlstoretest.MySQLURL(t)
	t.Parallel()
	for _, target := range []store.Target{store.RefreshAccessExpiredBefore, store.RefreshLiveAccessExpiredAtOrBefore} {
		// One target at a time: InnoDB refreshes its information_schema
		// cache only after 0.1 s in which nobody read it, so two tests
		// polling it side by side would read a cache that never changes.
		t.Run(target.String(), func(t *testing.T) {
			e := sqlstoretest.New(t, sqlstore.DialectMySQL, sqlstoretest.DOT341)
			now := time.Now()
			access := e.AccessToken(t, now.Add(-time.Hour))
			refresh := e.RefreshToken(t, access, time.Time{})

			server := e.DB.MustBegin()
			defer server.Rollback() //nolint:errcheck // committed below
			_, err := server.Exec(`UPDATE oauth2_provider_accesstoken SET expires = ? WHERE id = ?`, e.Time(now.Add(time.Hour)), access)
			require.NoError(t, err)
			// The server's connection, not its transaction id: InnoDB's
			// information_schema tables are a cache, so a transaction this
			// young may not be listed yet.
			var serverConn int64
			require.NoError(t, server.Get(&serverConn, `SELECT CONNECTION_ID()`))

			type result struct {
				res store.DeleteBatchResult
				err error
			}
			done := make(chan result, 1)
			go func() {
				res, err := e.Store.DeleteBatch(context.Background(), store.DeleteBatchParams{Target: target, Cutoff: now, Max: 10})
				done <- result{res, err}
			}()

			// Until the batch either waits for the server's lock or ends
			// without waiting (which is the failure this test is for).
			var got *result
			for deadline := time.Now().Add(2 * time.Minute); got == nil; time.Sleep(250 * time.Millisecond) {
				require.True(t, time.Now().Before(deadline), "the batch neither waited for the server's lock nor ended")
				select {
				case r := <-done:
					got = &r
					continue
				default:
				}
				if e.Int(t, `SELECT COUNT(*) FROM information_schema.INNODB_LOCK_WAITS AS w
					JOIN information_schema.INNODB_TRX AS b ON b.trx_id = w.blocking_trx_id
					WHERE b.trx_mysql_thread_id = ?`, serverConn) > 0 {
					break
				}
			}
			require.NoError(t, server.Commit())
			if got == nil {
				r := <-done
				got = &r
			}
			require.NoError(t, got.err)
			assert.Zero(t, got.res.Deleted, "the access token was extended before the batch could read it")
			assert.Equal(t, []int64{refresh}, e.IDs(t, "refreshtoken"), "the refresh token of the extended access token stays")
		})
	}
}
