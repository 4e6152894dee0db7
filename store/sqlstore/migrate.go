package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Migrate creates DOT 3.4.1's tables (as its migrations 0001–0022 leave
// them) where they are missing, in one transaction. It never alters a
// table that exists.
func (s *Store) Migrate(ctx context.Context) error {
	n := s.names()
	r := strings.NewReplacer(
		"{user}", s.q(roleUser), "{application}", s.q(roleApplication), "{accesstoken}", s.q(roleAccess),
		"{refreshtoken}", s.q(roleRefresh), "{idtoken}", s.q(roleIDToken), "{grant}", s.q(roleGrant),
		"{migrations}", s.q(roleMigrations), "{lock}", s.q(roleLock),
		// Constraint and index names must be unique per schema; derive them
		// from the (validated) table names so two table sets can coexist.
		"{user_}", bare(n[roleUser]), "{application_}", bare(n[roleApplication]),
		"{accesstoken_}", bare(n[roleAccess]), "{refreshtoken_}", bare(n[roleRefresh]),
		"{idtoken_}", bare(n[roleIDToken]), "{grant_}", bare(n[roleGrant]),
		"{migrations_}", bare(n[roleMigrations]),
		// The names as configured, unquoted, for catalog lookups.
		"{accesstoken_schema}", n[roleAccess], "{refreshtoken_schema}", n[roleRefresh],
	)
	if err := s.d.migrate(ctx, s.db, r); err != nil {
		return fmt.Errorf("create schema in %s: %w", s.display, s.scrub(err))
	}
	s.colsMu.Lock()
	s.appCols = nil // the layout may have just appeared
	s.colsMu.Unlock()
	return nil
}

// runInTx runs DDL statements in order in one transaction (PostgreSQL and
// SQLite take DDL in transactions: all or nothing).
func runInTx(ctx context.Context, db *sqlx.DB, stmts []string, r *strings.Replacer) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, r.Replace(stmt)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// splitStatements splits a script of statements each ending in ";\n".
func splitStatements(script string) []string {
	var out []string
	for _, stmt := range strings.Split(script, ";\n") {
		if strings.TrimSpace(stmt) != "" {
			out = append(out, stmt)
		}
	}
	return out
}

// bare is a table name without its schema, for naming constraints.
func bare(name string) string {
	_, t := splitQualified(name)
	return t
}

func splitQualified(name string) (schema, table string) {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}
