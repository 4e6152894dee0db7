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
}
