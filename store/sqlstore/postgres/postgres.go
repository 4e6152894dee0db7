// Package postgres links PostgreSQL into sqlstore: import it for its
// effect, and sqlstore.Open takes postgres:// and postgresql:// URLs
// (through github.com/lib/pq).
//
//	import _ "github.com/oauthkit/oauthkit/store/sqlstore/postgres"
//
// A server that already has a *sql.DB on lib/pq or on pgx
// (github.com/jackc/pgx/v5/stdlib) does not need it: sqlstore.New
// recognises both drivers and reads their errors by SQLSTATE.
package postgres

import _ "github.com/lib/pq" // registers database/sql's "postgres"
