package sqlstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// Migrate makes DOT 3.4.1's tables on an empty database, twice without
// harm, and the cleaner then runs on them.
func TestMigrate(t *testing.T) {
	urls := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "new.sqlite3") },
		"postgres": func(t *testing.T) string { return sqlstoretest.NewPostgresSchema(t) }, // skips without PostgreSQL
	}
	for name, makeURL := range urls {
		t.Run(name, func(t *testing.T) {
			u := makeURL(t)
			ctx := context.Background()
			s, err := sqlstore.Open(ctx, u, sqlstore.AllowCreate())
			require.NoError(t, err)
			defer s.Close()
			assert.True(t, errors.Is(s.CheckSchema(ctx), store.ErrMissingTable))
			require.NoError(t, s.Migrate(ctx))
			require.NoError(t, s.Migrate(ctx), "Migrate is idempotent")
			require.NoError(t, s.CheckSchema(ctx))
			limits, err := s.ApplicationColumns(ctx)
			require.NoError(t, err)
			assert.Equal(t, 255, limits["client_id"], "DOT 3.4.1 layout")
			assert.Equal(t, 44, limits["authorization_grant_type"])
			assert.True(t, limits.Has("hash_client_secret") && limits.Has("registration_source") && !limits.Has("nope"))
			assert.Zero(t, limits["redirect_uris"], "text: no limit")
			rep, err := cleanup.Clear(ctx, cleanup.Options{Store: s, Now: time.Now()})
			require.NoError(t, err)
			assert.Equal(t, cleanup.RulesDOT34, rep.Rules, "a database oauthkit created gets the 3.4 rules")
		})
	}
}
