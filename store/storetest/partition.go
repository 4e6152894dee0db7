package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
)

// Partition cuts a walk into disjoint ranges that together cover the
// table: walking each range on its own deletes exactly what one walk
// deletes, rows added after the cut included (the last range is open).
func testPartition(t *testing.T, e Harness) {
	ctx := context.Background()
	var gone, kept []int64
	for i := 0; i < 40; i++ {
		gone = append(gone, e.Grant(t, cutoff.Add(-us)))
		kept = append(kept, e.Grant(t, far))
	}
	ranges, err := e.Store().Partition(ctx, store.PartitionParams{Target: store.GrantExpiredBefore, Parts: 4})
	require.NoError(t, err)
	require.NotEmpty(t, ranges)
	assert.LessOrEqual(t, len(ranges), 4)
	gone = append(gone, e.Grant(t, cutoff.Add(-us))) // after the cut
	var deleted int64
	for _, r := range ranges {
		deleted += sum(drainRange(t, e.Store(), r, 3))
	}
	assert.EqualValues(t, len(gone), deleted, "each row once")
	assert.Equal(t, kept, e.IDs(t, Grant))

	one, err := e.Store().Partition(ctx, store.PartitionParams{Target: store.GrantExpiredBefore, Parts: 1})
	require.NoError(t, err)
	assert.Equal(t, []store.Range{{}}, one, "one part is the whole walk")
}

// drainRange walks one range of the grant step to its end.
func drainRange(t *testing.T, s store.Store, r store.Range, max int) []int64 {
	t.Helper()
	cur := r.From
	var batches []int64
	for i := 0; ; i++ {
		require.Less(t, i, 10000, "walk does not end")
		res, err := s.DeleteBatch(context.Background(), store.DeleteBatchParams{Target: store.GrantExpiredBefore, Cutoff: cutoff, Max: max, After: cur, Until: r.Until})
		require.NoError(t, err)
		batches = append(batches, res.Deleted)
		cur = res.Next
		if res.Done {
			return batches
		}
	}
}
