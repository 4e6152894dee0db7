package sqlstore_test

import (
	"context"
	"database/sql"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// The single-runner lock's transaction stays open for the whole run, but
// it holds no snapshot: pg_stat_activity shows no backend_xmin for it, so
// vacuum (and a live server's index lookups) can prune what the run
// deletes while it runs. Through lib/pq and pgx, before and after
// heartbeats.
func TestPostgresLockHoldsNoSnapshot(t *testing.T) {
	for _, driver := range []string{"lib/pq", "pgx"} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			base := sqlstoretest.New(t, sqlstore.DialectPostgres, sqlstoretest.DOT341)
			u, err := url.Parse(base.URL)
			require.NoError(t, err)
			name := "oauthkit-lock-xmin-" + driver[:3]
			q := u.Query()
			q.Set("application_name", name)
			// A heartbeat every second (a third of the timeout).
			q.Set("idle_in_transaction_session_timeout", "3000")
			u.RawQuery = q.Encode()
			e := *base
			e.URL = u.String()
			var st store.Store
			if driver == "pgx" {
				st = e.WithPgx(t).Store
			} else {
				s, err := sqlstore.Open(context.Background(), e.URL)
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				st = s
			}
			lock, err := st.Lock(context.Background(), store.LockParams{Name: "xmin"})
			require.NoError(t, err)
			defer lock.Unlock() //nolint:errcheck
			xmin := func() sql.NullString {
				var x sql.NullString
				require.NoError(t, base.DB.Get(&x, `SELECT backend_xmin::text FROM pg_stat_activity
WHERE application_name = $1 AND state = 'idle in transaction' AND datname = current_database()`, name))
				return x
			}
			assert.False(t, xmin().Valid, "the lock's transaction holds back xmin right after the lock")
			time.Sleep(2500 * time.Millisecond) // heartbeats ran meanwhile
			assert.False(t, xmin().Valid, "the lock's transaction holds back xmin after heartbeats")
			require.NoError(t, lock.Err())
		})
	}
}
