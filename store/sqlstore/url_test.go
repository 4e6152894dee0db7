package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
)

func TestParseURL(t *testing.T) {
	good := map[string]struct {
		dialect sqlstore.Dialect
		path    string
	}{
		"postgres://u:p@127.0.0.1:5432/db?sslmode=disable": {sqlstore.DialectPostgres, ""},
		"postgresql://localhost/db":                        {sqlstore.DialectPostgres, ""},
		"sqlite:db.sqlite3":                                {sqlstore.DialectSQLite, "db.sqlite3"},
		"sqlite:/srv/app/db.sqlite3":                       {sqlstore.DialectSQLite, "/srv/app/db.sqlite3"},
		"sqlite:///srv/app/db.sqlite3":                     {sqlstore.DialectSQLite, "/srv/app/db.sqlite3"},
	}
	for raw, want := range good {
		tg, err := sqlstore.ParseURL(raw)
		require.NoError(t, err, raw)
		assert.Equal(t, want.dialect, tg.Dialect, raw)
		assert.Equal(t, want.path, tg.Path, raw)
	}
	for _, bad := range []string{"", "db.sqlite3", "mysql://h/db", "sqlite:", "sqlite://host/x", "postgres:db", "postgres:///db", "postgres://h:port/db"} {
		_, err := sqlstore.ParseURL(bad)
		assert.True(t, errors.Is(err, store.ErrInvalidURL), "%q: %v", bad, err)
	}
	_, err := sqlstore.ParseURL("postgres://u:hunter2@h:x/db")
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestOpenRejectsBadTables(t *testing.T) {
	_, err := sqlstore.Open(context.Background(), "sqlite:x.db", sqlstore.WithTables(store.Tables{Grant: `g"; DROP TABLE x; --`}))
	assert.True(t, errors.Is(err, store.ErrInvalidIdentifier), "%v", err)
}
