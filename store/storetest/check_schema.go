package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/oauthkit/oauthkit/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCheckSchema(t *testing.T, e Harness) {
	require.NoError(t, e.Store().CheckSchema(context.Background()))
	e.DropTable(t, "grant")
	err := e.Store().CheckSchema(context.Background())
	require.Error(t, err)
	assert.True(t, errors.Is(err, store.ErrMissingTable))
	assert.Contains(t, err.Error(), "oauth2_provider_grant")
}
