package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// BenchmarkFence is the cost of fencing a batch: the same small batch
// (nothing to delete in a table of 1000 live tokens, so the batch's own
// work is as small as it gets) with and without the lock's check in its
// transaction. The difference is the check's cost per batch.
func BenchmarkFence(b *testing.B) {
	for _, d := range sqlstoretest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			e := sqlstoretest.New(b, d, sqlstoretest.DOT341)
			future := time.Now().Add(time.Hour)
			e.InTx(b, func() {
				for i := 0; i < 1000; i++ {
					e.AccessToken(b, future)
				}
			})
			lock, err := e.Store.Lock(context.Background(), store.LockParams{Name: "bench"})
			require.NoError(b, err)
			defer lock.Unlock() //nolint:errcheck
			for _, fenced := range []bool{false, true} {
				name := "unfenced"
				p := store.DeleteBatchParams{Target: store.AccessExpiredBefore, Cutoff: time.Now(), Max: 10000}
				if fenced {
					name, p.Lock = "fenced", lock
				}
				b.Run(name, func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						if _, err := e.Store.DeleteBatch(context.Background(), p); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
