package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A batch given its run's lock (DeleteBatchParams.Lock and
// PruneCIMDApplicationsParams.Lock) commits only while that lock is held:
// once it is released, and once another store holds it, the batch is
// rolled back with ErrLockLost.
func testFence(t *testing.T, e Harness) {
	ctx := context.Background()
	s := e.Store()
	past := cutoff.Add(-time.Hour)
	first := e.AccessToken(t, past)
	lock, err := s.Lock(ctx, store.LockParams{Name: "fence"})
	require.NoError(t, err)
	res, err := s.DeleteBatch(ctx, store.DeleteBatchParams{Target: store.AccessExpiredBefore, Cutoff: cutoff, Max: 10, Lock: lock})
	require.NoError(t, err, "a batch fenced by a held lock commits")
	assert.EqualValues(t, 1, res.Deleted)
	assert.NotContains(t, e.IDs(t, AccessToken), first)

	require.NoError(t, lock.Unlock())
	second := e.AccessToken(t, past)
	_, err = s.DeleteBatch(ctx, store.DeleteBatchParams{Target: store.AccessExpiredBefore, Cutoff: cutoff, Max: 10, Lock: lock})
	assert.True(t, errors.Is(err, store.ErrLockLost), "a batch fenced by a released lock: %v", err)
	assert.False(t, errors.Is(err, store.ErrTransient), "a lost lock is not worth retrying: %v", err)
	assert.Contains(t, e.IDs(t, AccessToken), second, "the fenced batch was rolled back")

	// Another holder now: the stale lock still fences.
	other := e.OpenAnother(t)
	taken, err := other.Lock(ctx, store.LockParams{Name: "fence"})
	require.NoError(t, err)
	defer taken.Unlock() //nolint:errcheck
	_, err = s.DeleteBatch(ctx, store.DeleteBatchParams{Target: store.AccessExpiredBefore, Cutoff: cutoff, Max: 10, Lock: lock})
	assert.True(t, errors.Is(err, store.ErrLockLost), "a batch fenced by a lock another holds now: %v", err)
	assert.Contains(t, e.IDs(t, AccessToken), second)
	_, err = other.DeleteBatch(ctx, store.DeleteBatchParams{Target: store.AccessExpiredBefore, Cutoff: cutoff, Max: 10, Lock: lock})
	assert.True(t, errors.Is(err, store.ErrLockLost), "a stale lock fences whatever store runs the batch: %v", err)
	res, err = other.DeleteBatch(ctx, store.DeleteBatchParams{Target: store.AccessExpiredBefore, Cutoff: cutoff, Max: 10, Lock: taken})
	require.NoError(t, err, "the new holder's batches commit")
	assert.EqualValues(t, 1, res.Deleted)

	if e.Layout().AtLeast(DOT341) {
		e.Application(t, true, past)
		_, err = s.PruneCIMDApplications(ctx, store.PruneCIMDApplicationsParams{Now: cutoff, Max: 10, Lock: lock})
		assert.True(t, errors.Is(err, store.ErrLockLost), "a CIMD batch fenced by a lost lock: %v", err)
		n, err := other.PruneCIMDApplications(ctx, store.PruneCIMDApplicationsParams{Now: cutoff, Max: 10, Lock: taken})
		require.NoError(t, err)
		assert.EqualValues(t, 1, n.Deleted, "the CIMD application was left to the holder's batch")
	}
}
