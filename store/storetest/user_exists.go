package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
)

func testUserExists(t *testing.T, e Harness) {
	ctx := context.Background()
	id := e.User(t)
	ok, err := e.Store().UserExists(ctx, store.UserExistsParams{ID: id})
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = e.Store().UserExists(ctx, store.UserExistsParams{ID: id + 1000})
	require.NoError(t, err)
	assert.False(t, ok)
}
