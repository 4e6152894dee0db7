// Command embedded-cleaner shows a Go service that cleans its own
// django-oauth-toolkit tables: it hands the *sql.DB it already has to
// oauthkit and runs the cleaner on a ticker beside its other work, with the
// single-runner lock so every replica can do the same.
//
//	DATABASE_DRIVER=postgres DATABASE_DSN='postgres://…' go run ./examples/embedded-cleaner
//	go run ./examples/embedded-cleaner   # SQLite file example.sqlite3
package main

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "github.com/lib/pq"
	_ "modernc.org/sqlite"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store/sqlstore"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	driver, dsn := envOr("DATABASE_DRIVER", "sqlite"), envOr("DATABASE_DSN", "file:example.sqlite3")
	db, err := sql.Open(driver, dsn) // the service's own handle
	if err != nil {
		logger.Error("open database", "error", err)
		os.Exit(1)
	}
	defer db.Close()

	// A stand-in for the service's real work.
	srv := &http.Server{Addr: envOr("LISTEN", "127.0.0.1:8089"), Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n")) //nolint:errcheck
	})}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serve", "error", err)
			stop()
		}
	}()

	err = runCleaner(ctx, db, time.Hour, logger, driver == "sqlite")
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown) //nolint:errcheck
	if err != nil && !errors.Is(err, context.Canceled) {
		logger.Error("cleaner stopped", "error", err)
		os.Exit(1)
	}
}

// runCleaner cleans the DOT tables behind db every interval until ctx ends.
// createTables is for the demo only: a real service cleans the tables its
// DOT deployment already has.
func runCleaner(ctx context.Context, db *sql.DB, every time.Duration, logger *slog.Logger, createTables bool) error {
	st, err := sqlstore.New(db) // recognises lib/pq and modernc.org/sqlite
	if err != nil {
		return err
	}
	if createTables {
		if err := st.Migrate(ctx); err != nil {
			return err
		}
	}
	if err := st.CheckSchema(ctx); err != nil {
		return err
	}
	opts := cleanup.Options{
		Store:              st,
		RefreshTokenExpire: 14 * 24 * time.Hour, // REFRESH_TOKEN_EXPIRE_SECONDS
		BatchSize:          1000,                // small transactions next to live traffic
		BatchInterval:      50 * time.Millisecond,
		Lock:               cleanup.LockSkip, // another replica cleaning: skip this tick
	}
	return cleanup.RunEvery(ctx, every, opts, func(rep cleanup.Report, err error) {
		switch {
		case errors.Is(err, cleanup.ErrLocked):
			logger.Info("cleartokens: another replica is cleaning")
		case err != nil:
			logger.Error("cleartokens failed; trying again next tick", "error", err.Error())
		default:
			logger.Info("cleartokens", "deleted", rep.Deleted(), "duration", rep.Duration.String())
		}
	})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
