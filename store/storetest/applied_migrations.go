package storetest

import (
	"context"
	"testing"

	"github.com/oauthkit/oauthkit/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testMigrations(t *testing.T, e Harness) {
	m, err := e.Store().AppliedMigrations(context.Background(), store.AppliedMigrationsParams{App: "oauth2_provider"})
	require.NoError(t, err)
	assert.True(t, m.LedgerExists)
	assert.Empty(t, m.Names)
	e.MarkMigrated(t, "0001_initial", "0012_add_token_checksum")
	m, err = e.Store().AppliedMigrations(context.Background(), store.AppliedMigrationsParams{App: "oauth2_provider"})
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"0001_initial", "0012_add_token_checksum"}, m.Names)
	e.DropTable(t, "migrations")
	m, err = e.Store().AppliedMigrations(context.Background(), store.AppliedMigrationsParams{App: "oauth2_provider"})
	require.NoError(t, err)
	assert.False(t, m.LedgerExists)
}
