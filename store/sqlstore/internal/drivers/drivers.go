// Package drivers is where the driver packages of sqlstore (postgres,
// sqlite, mysql) hand sqlstore what only code that imports a driver can
// do. sqlstore itself imports no database driver, so a program links only
// the drivers whose package it imports. PostgreSQL and SQLite need nothing
// here: their errors are read through interfaces (SQLState, Code) that the
// drivers' error types satisfy, so a pgx or lib/pq handle given to
// sqlstore.New works without either package. MySQL's error type has no
// such method, and its data source is built by the driver's own Config.
package drivers

import "sync/atomic"

// MySQLConfig is what sqlstore gives the MySQL driver to format a data
// source from a URL.
type MySQLConfig struct {
	User, Passwd, Net, Addr, DBName string
	// Params are the driver's options (parseTime=true and so on).
	Params map[string]string
}

// MySQL is what the MySQL driver package gives sqlstore.
type MySQL struct {
	// Error reads a server error: its number, SQLSTATE and message; ok is
	// false when err holds none.
	Error func(err error) (number uint16, sqlState, message string, ok bool)
	// ConnLost reports the driver's own error for a dead connection.
	ConnLost func(err error) bool
	// DSN formats (and the driver checks) a data source.
	DSN func(c MySQLConfig) (string, error)
}

var mysql atomic.Pointer[MySQL]

// postgres is the database/sql driver name Open uses for PostgreSQL URLs:
// "postgres" (lib/pq, package sqlstore/postgres) or "pgx" (package
// sqlstore/pgx). lib/pq wins when both are linked: it is the default.
var postgres atomic.Value

// RegisterPostgres is called by package sqlstore/postgres or sqlstore/pgx
// when it is imported.
func RegisterPostgres(name string) {
	if cur, _ := postgres.Load().(string); cur == "postgres" {
		return
	}
	postgres.Store(name)
}

// PostgresDriver is the registered PostgreSQL driver's name, or "".
func PostgresDriver() string { s, _ := postgres.Load().(string); return s }

// RegisterMySQL is called by package sqlstore/mysql when it is imported.
func RegisterMySQL(m MySQL) { mysql.Store(&m) }

// LoadMySQL is what RegisterMySQL registered, or nil.
func LoadMySQL() *MySQL { return mysql.Load() }
