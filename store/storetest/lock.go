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

func testLock(t *testing.T, e Harness) {
	ctx := context.Background()
	held, err := e.Store().Lock(ctx, store.LockParams{Name: "cleartokens"})
	require.NoError(t, err)

	_, err = e.Store().Lock(ctx, store.LockParams{Name: "cleartokens"})
	assert.True(t, errors.Is(err, store.ErrLocked), "a second taker is refused: %v", err)

	other, err := e.Store().Lock(ctx, store.LockParams{Name: "something-else"})
	require.NoError(t, err, "another lock name is another lock")
	require.NoError(t, other.Unlock())

	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	_, err = e.Store().Lock(short, store.LockParams{Name: "cleartokens", Wait: true})
	require.Error(t, err, "waiting ends with the context")
	assert.False(t, errors.Is(err, store.ErrLocked))

	got := make(chan error, 1)
	go func() {
		l, err := e.Store().Lock(ctx, store.LockParams{Name: "cleartokens", Wait: true})
		if err == nil {
			err = l.Unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("the waiter got the lock while it was held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, held.Unlock())
	select {
	case err := <-got:
		require.NoError(t, err, "the waiter gets the lock once it is released")
	case <-time.After(10 * time.Second):
		t.Fatal("the waiter never got the lock")
	}
}
