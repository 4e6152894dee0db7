package main

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store/sqlstore"
)

// The service's own handle, cleaned on a ticker; cancelling stops it.
func TestRunCleaner(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "svc.sqlite3"))
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runCleaner(ctx, db, cleanup.MinInterval, slog.New(slog.NewTextHandler(io.Discard, nil)), true)
	}()

	require.Eventually(t, func() bool {
		var n int
		return db.QueryRow(`SELECT count(*) FROM oauth2_provider_grant`).Scan(&n) == nil
	}, 10*time.Second, 10*time.Millisecond, "the tables exist")
	expired := sqlstore.DjangoSQLiteTime(time.Now().Add(-time.Hour))
	_, err = db.Exec(`INSERT INTO oauth2_provider_accesstoken (token, token_checksum, expires, scope, created, updated, resource)
		VALUES ('t', 'c', ?, 'read', ?, ?, '[]')`, expired, expired, expired)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		return db.QueryRow(`SELECT count(*) FROM oauth2_provider_accesstoken`).Scan(&n) == nil && n == 0
	}, 30*time.Second, 10*time.Millisecond, "a tick deletes the expired token")

	cancel()
	select {
	case err := <-done:
		require.True(t, errors.Is(err, context.Canceled), "%v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the cleaner did not stop")
	}
}
