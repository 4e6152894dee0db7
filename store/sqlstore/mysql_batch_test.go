package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// A server that extends an access token (DOT does, refreshing without
// rotation) while a batch is deciding keeps its refresh token: the batch
// re-reads the expiry when it deletes, finds the row no longer matching,
// and is rolled back as transient (the run retries it); nothing is lost.
func TestMySQLRefreshBatchKeepsTheRefreshTokenOfAnExtendedAccessToken(t *testing.T) {
	sqlstoretest.MySQLURL(t)
	t.Parallel()
	e := sqlstoretest.New(t, sqlstore.DialectMySQL, sqlstoretest.DOT341)
	now := time.Now()
	access := e.AccessToken(t, now.Add(-time.Hour))
	refresh := e.RefreshToken(t, access, time.Time{})

	server := e.DB.MustBegin()
	defer server.Rollback() //nolint:errcheck // committed below
	_, err := server.Exec(`UPDATE oauth2_provider_accesstoken SET expires = ? WHERE id = ?`, e.Time(now.Add(time.Hour)), access)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := e.Store.DeleteBatch(context.Background(), store.DeleteBatchParams{Target: store.RefreshAccessExpiredBefore, Cutoff: now, Max: 10})
		done <- err
	}()
	// Give the batch a moment to read first (the case of interest); if it
	// reads after the commit instead, the refresh token must stay too, so
	// the outcome asserted does not depend on this pause.
	time.Sleep(200 * time.Millisecond)
	require.NoError(t, server.Commit())
	if err := <-done; err != nil {
		assert.ErrorIs(t, err, store.ErrTransient, "a batch that lost its row is rolled back as transient")
	}
	assert.Equal(t, []int64{refresh}, e.IDs(t, "refreshtoken"), "the refresh token of the extended access token stays")
}
