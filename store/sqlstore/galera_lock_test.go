package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// On a real Galera cluster, the lease lock keeps takers on different nodes
// apart: many rounds of simultaneous takers on all three nodes, never two
// holders at once.
func TestGaleraLeaseExcludes(t *testing.T) {
	g := sqlstoretest.StartGalera(t)
	name := g.NewGaleraDatabase(t, sqlstoretest.DOT341)
	envs := g.SyncedEnvs(t, name, sqlstoretest.DOT341)
	require.NoError(t, envs[0].Store.Migrate(context.Background()))
	var holders, maxHolders, taken atomic.Int32
	for round := 0; round < 20; round++ {
		var wg sync.WaitGroup
		for _, e := range envs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u, err := e.Store.Lock(context.Background(), store.LockParams{Name: "x"})
				if errors.Is(err, store.ErrLocked) {
					return
				}
				require.NoError(t, err)
				taken.Add(1)
				n := holders.Add(1)
				for {
					m := maxHolders.Load()
					if n <= m || maxHolders.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(100 * time.Millisecond)
				holders.Add(-1)
				require.NoError(t, u.Unlock())
			}()
		}
		wg.Wait()
	}
	assert.EqualValues(t, 1, maxHolders.Load(), "never two holders at once")
	assert.Greater(t, taken.Load(), int32(19), "each round, someone took it")

	// Fencing across nodes: node 1's lease expires and node 2 takes it
	// over; node 1's next batch is rolled back, node 2's commits.
	assertLeaseFences(t, envs[0], envs[1])
}

// Off Galera, WithLeaseLock fences batches the same way.
func TestLeaseLockFences(t *testing.T) {
	a := sqlstoretest.New(t, sqlstore.DialectMySQL, sqlstoretest.DOT341, sqlstore.WithLeaseLock())
	require.NoError(t, a.Store.Migrate(context.Background()))
	b := a.With(a.DB)
	s, err := sqlstore.Open(context.Background(), a.URL, sqlstore.WithLeaseLock())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	b.Store = s
	assertLeaseFences(t, a, b)
}

// assertLeaseFences: a's lease expires (as when its holder stalls for
// longer than the lease), b takes the lock, and then a batch fenced by a's
// lease is rolled back with ErrLockLost while b's commits.
func assertLeaseFences(t *testing.T, a, b *sqlstoretest.Env) {
	ctx := context.Background()
	past := time.Now().Add(-time.Hour)
	tok := a.AccessToken(t, past)
	la, err := a.Store.Lock(ctx, store.LockParams{Name: "fenced"})
	require.NoError(t, err)
	defer la.Unlock() //nolint:errcheck
	// Expired on a's own node, which certainly holds the lease row: on
	// Galera, wsrep_sync_wait=1 makes reads wait for the cluster, not
	// UPDATEs, and one on b's node could find the row not applied yet.
	a.Exec(t, "UPDATE oauthkit_lock SET expires = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
	lb, err := b.Store.Lock(ctx, store.LockParams{Name: "fenced"})
	require.NoError(t, err, "the expired lease is taken over")
	defer lb.Unlock() //nolint:errcheck
	p := store.DeleteBatchParams{Target: store.AccessExpiredBefore, Cutoff: time.Now(), Max: 10, Lock: la}
	_, err = a.Store.DeleteBatch(ctx, p)
	assert.True(t, errors.Is(err, store.ErrLockLost), "%v", err)
	assert.Contains(t, b.IDs(t, "accesstoken"), tok, "the fenced batch was rolled back")
	p.Lock = lb
	res, err := b.Store.DeleteBatch(ctx, p)
	require.NoError(t, err)
	assert.EqualValues(t, 1, res.Deleted)
}
