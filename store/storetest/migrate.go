package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
)

// Migrate never alters a table that exists (the rows stay, and a DOT 3.0
// table keeps its layout), and creates one that is missing.
func testMigrate(t *testing.T, e Harness) {
	ctx := context.Background()
	at := e.AccessToken(t, far)
	before, err := e.Store().ApplicationColumns(ctx)
	require.NoError(t, err)
	e.DropTable(t, "grant")
	require.NoError(t, e.Store().Migrate(ctx))
	require.NoError(t, e.Store().Migrate(ctx), "a second Migrate is a no-op")
	require.NoError(t, e.Store().CheckSchema(ctx), "the missing table was made")
	has, err := e.Store().HasTable(ctx, store.HasTableParams{Role: "grant"})
	require.NoError(t, err)
	assert.True(t, has)
	assert.Equal(t, []int64{at}, e.IDs(t, AccessToken), "rows of existing tables stay")
	after, err := e.Store().ApplicationColumns(ctx)
	require.NoError(t, err)
	assert.Equal(t, before, after, "an existing table keeps its columns")
}
