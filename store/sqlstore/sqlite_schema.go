package sqlstore

import (
	"context"
	_ "embed"
	"strings"

	"github.com/jmoiron/sqlx"
)

// sqliteSchemaDDL is DOT 3.4.1's tables as its migrations 0001–0022 leave them on SQLite
// (Django 4.2), with {placeholders} for the configured table names and
// {name_} for the bare names constraints and indexes are named after.
// Foreign keys are DEFERRABLE INITIALLY DEFERRED with no ON DELETE action,
// and no column has a database default, exactly as Django creates them.
//
//go:embed schema/sqlite.sql
var sqliteSchemaDDL string

func (sqliteDialect) migrate(ctx context.Context, db *sqlx.DB, r *strings.Replacer) error {
	return runInTx(ctx, db, splitStatements(sqliteSchemaDDL), r)
}
