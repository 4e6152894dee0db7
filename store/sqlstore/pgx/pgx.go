// Package pgx links PostgreSQL into sqlstore through pgx
// (github.com/jackc/pgx/v5/stdlib): import it for its effect, instead of
// sqlstore/postgres, and sqlstore.Open takes postgres:// and
// postgresql:// URLs on pgx, linking no lib/pq. (With both imported,
// Open uses lib/pq.)
//
//	import _ "github.com/oauthkit/oauthkit/store/sqlstore/pgx"
//
// Open sets pgx's default_query_exec_mode to exec unless the URL says
// otherwise: each statement in one round trip with no prepared statement
// kept on the connection, which a transaction pooler (PgBouncer's
// pool_mode=transaction) needs.
package pgx

import (
	_ "github.com/jackc/pgx/v5/stdlib" // registers database/sql's "pgx"

	"github.com/oauthkit/oauthkit/store/sqlstore/internal/drivers"
)

func init() { drivers.RegisterPostgres("pgx") }
