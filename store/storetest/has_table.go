package storetest

import (
	"context"
	"testing"

	"github.com/oauthkit/oauthkit/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The pushed-authorization-request table tells DOT main from a release;
// the required tables are there on every layout.
func testHasTable(t *testing.T, e Harness) {
	ctx := context.Background()
	has, err := e.Store().HasTable(ctx, store.HasTableParams{Role: store.RolePAR})
	require.NoError(t, err)
	assert.Equal(t, e.Layout().AtLeast(DOTMain), has, "PAR table on layout %s", e.Layout())
	has, err = e.Store().HasTable(ctx, store.HasTableParams{Role: "grant"})
	require.NoError(t, err)
	assert.True(t, has)
	_, err = e.Store().HasTable(ctx, store.HasTableParams{Role: "nonsense"})
	assert.Error(t, err)
	e.DropTable(t, "grant")
	has, err = e.Store().HasTable(ctx, store.HasTableParams{Role: "grant"})
	require.NoError(t, err)
	assert.False(t, has)
}
