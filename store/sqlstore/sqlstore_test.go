package sqlstore_test

import (
	"testing"

	"github.com/oauthkit/oauthkit/internal/testdb"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/storetest"
)

func TestConformanceSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T, l testdb.Layout) *testdb.Env { return testdb.New(t, sqlstore.DialectSQLite, l) })
}

func TestConformancePostgres(t *testing.T) {
	testdb.PostgresURL(t)
	storetest.Run(t, func(t *testing.T, l testdb.Layout) *testdb.Env { return testdb.New(t, sqlstore.DialectPostgres, l) })
}

// The walk by id serves PostgreSQL servers older than 14; run the suite on it too.
func TestConformancePostgresIDWalk(t *testing.T) {
	testdb.PostgresURL(t)
	storetest.Run(t, func(t *testing.T, l testdb.Layout) *testdb.Env {
		e := testdb.New(t, sqlstore.DialectPostgres, l)
		e.Store.ForceIDWalk()
		return e
	})
}
