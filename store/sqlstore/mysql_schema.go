package sqlstore

import (
	"context"
	_ "embed"
	"strings"

	"github.com/jmoiron/sqlx"
)

// mysqlSchemaDDL is DOT 3.4.1's tables as Django 4.2 makes them on
// MariaDB 10.11 (and MySQL 8.0): bigint ids, datetime(6) holding UTC,
// InnoDB foreign keys without ON DELETE, in foreign-key order. The one
// circular constraint (accesstoken.source_refresh_token_id) is added last,
// by migrate, when missing: MySQL and MariaDB check foreign keys at once,
// and MySQL has no ADD CONSTRAINT IF NOT EXISTS. {lock} is oauthkit's own
// lease table, the single-runner lock of a Galera cluster.
//
//go:embed schema/mysql.sql
var mysqlSchemaDDL string

// migrate creates the tables (each CREATE commits on its own in MySQL),
// then the circular foreign key when the access token table lacks it.
func (d mysqlDialect) migrate(ctx context.Context, db *sqlx.DB, r *strings.Replacer) error {
	for _, stmt := range splitStatements(mysqlSchemaDDL) {
		if _, err := db.ExecContext(ctx, r.Replace(stmt)); err != nil {
			return err
		}
	}
	access, refresh := r.Replace("{accesstoken_schema}"), r.Replace("{refreshtoken_schema}")
	aSchema, aTable := schemaAndTable(access)
	rSchema, rTable := schemaAndTable(refresh)
	var n int
	err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM information_schema.key_column_usage
WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? AND column_name = 'source_refresh_token_id'
AND referenced_table_schema = COALESCE(?, DATABASE()) AND referenced_table_name = ?`, aSchema, aTable, rSchema, rTable)
	if err != nil || n > 0 {
		return err
	}
	_, err = db.ExecContext(ctx, r.Replace(`ALTER TABLE {accesstoken} ADD FOREIGN KEY (source_refresh_token_id) REFERENCES {refreshtoken} (id)`))
	return err
}
