package sqlstore

import (
	"context"
	_ "embed"
	"strings"

	"github.com/jmoiron/sqlx"
)

// postgresSchemaDDL is DOT 3.4.1's tables as its migrations 0001–0022 leave them on PostgreSQL
// (Django 4.2), with {placeholders} for the configured table names and
// {name_} for the bare names constraints and indexes are named after.
// Foreign keys are DEFERRABLE INITIALLY DEFERRED with no ON DELETE action,
// and no column has a database default, exactly as Django creates them.
//
//go:embed schema/postgres.sql
var postgresSchemaDDL string

// migrate runs the script as one statement (it holds a DO block), in a
// transaction.
func (postgresDialect) migrate(ctx context.Context, db *sqlx.DB, r *strings.Replacer) error {
	return runInTx(ctx, db, []string{postgresSchemaDDL}, r)
}
