package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
)

// Closing a store releases its lock and leaves other stores on the same
// database working.
func testClose(t *testing.T, e Harness) {
	ctx := context.Background()
	other := e.OpenAnother(t)
	l, err := other.Lock(ctx, store.LockParams{Name: "close-test"})
	require.NoError(t, err)
	require.NoError(t, l.Unlock())
	require.NoError(t, other.Close())
	assert.NoError(t, e.Store().CheckSchema(ctx), "the first store still works")
	l, err = e.Store().Lock(ctx, store.LockParams{Name: "close-test"})
	require.NoError(t, err, "the lock is free")
	require.NoError(t, l.Unlock())
}
