// Package postgres links PostgreSQL into sqlstore through lib/pq: import
// it for its effect, and sqlstore.Open takes postgres:// and
// postgresql:// URLs.
//
//	import _ "github.com/oauthkit/oauthkit/store/sqlstore/postgres"
//
// A program on pgx imports sqlstore/pgx instead, and links no lib/pq. A
// server that already has a *sql.DB on lib/pq or on pgx's stdlib needs
// neither: sqlstore.New recognises both drivers and reads their errors by
// SQLSTATE.
package postgres

import (
	_ "github.com/lib/pq" // registers database/sql's "postgres"

	"github.com/oauthkit/oauthkit/store/sqlstore/internal/drivers"
)

func init() { drivers.RegisterPostgres("postgres") }
