package sqlstore

import (
	"context"
	"fmt"
	"strings"
)

// Migrate creates DOT 3.4.1's tables (as its migrations 0001–0022 leave
// them, see shared/reference) where they are missing, in one transaction.
// It never alters a table that exists.
func (s *Store) Migrate(ctx context.Context) error {
	ddl := sqliteSchema
	if s.dialect == DialectPostgres {
		ddl = postgresSchema
	}
	ddl = strings.NewReplacer(
		"{user}", s.qUser, "{application}", s.qApp, "{accesstoken}", s.qAccess,
		"{refreshtoken}", s.qRefresh, "{idtoken}", s.qID, "{grant}", s.qGrant,
		"{migrations}", s.qMigrations,
		// Constraint and index names must be unique per schema; derive them
		// from the (validated) table names so two table sets can coexist.
		"{user_}", bare(s.tables.User), "{application_}", bare(s.tables.Application),
		"{accesstoken_}", bare(s.tables.AccessToken), "{refreshtoken_}", bare(s.tables.RefreshToken),
		"{idtoken_}", bare(s.tables.IDToken), "{grant_}", bare(s.tables.Grant),
		"{migrations_}", bare(s.tables.Migrations),
	).Replace(ddl)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create schema in %s: %w", s.display, err)
	}
	defer tx.Rollback()    //nolint:errcheck // no-op after Commit
	stmts := []string{ddl} // PostgreSQL runs the whole script in one Exec (it has a DO block)
	if s.dialect == DialectSQLite {
		stmts = strings.Split(ddl, ";\n")
	}
	for _, stmt := range stmts {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create schema in %s: %w", s.display, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create schema in %s: %w", s.display, err)
	}
	s.colsMu.Lock()
	s.appCols = nil // the layout may have just appeared
	s.colsMu.Unlock()
	return nil
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

// The layouts below follow the reference dumps of DOT 3.4.1 (Django 4.2).
// Foreign keys are DEFERRABLE INITIALLY DEFERRED with no ON DELETE action,
// and no column has a database default, exactly as Django creates them.
const sqliteSchema = `
CREATE TABLE IF NOT EXISTS {migrations} ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "app" varchar(255) NOT NULL, "name" varchar(255) NOT NULL, "applied" datetime NOT NULL);
CREATE TABLE IF NOT EXISTS {user} ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "password" varchar(128) NOT NULL, "last_login" datetime NULL, "is_superuser" bool NOT NULL, "username" varchar(150) NOT NULL UNIQUE, "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" bool NOT NULL, "is_active" bool NOT NULL, "date_joined" datetime NOT NULL, "first_name" varchar(150) NOT NULL);
CREATE TABLE IF NOT EXISTS {application} ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "redirect_uris" text NOT NULL, "client_type" varchar(32) NOT NULL, "authorization_grant_type" varchar(44) NOT NULL, "client_secret" varchar(255) NOT NULL, "name" varchar(255) NOT NULL, "user_id" integer NULL REFERENCES {user} ("id") DEFERRABLE INITIALLY DEFERRED, "skip_authorization" bool NOT NULL, "created" datetime NOT NULL, "updated" datetime NOT NULL, "algorithm" varchar(5) NOT NULL, "post_logout_redirect_uris" text NOT NULL, "hash_client_secret" bool NOT NULL, "allowed_origins" text NOT NULL, "registration_source" varchar(32) NOT NULL, "cimd_expires_at" datetime NULL, "client_id" varchar(255) NOT NULL UNIQUE);
CREATE INDEX IF NOT EXISTS "{application_}_client_secret_idx" ON {application} ("client_secret");
CREATE INDEX IF NOT EXISTS "{application_}_user_id_idx" ON {application} ("user_id");
CREATE TABLE IF NOT EXISTS {idtoken} ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "jti" char(32) NOT NULL UNIQUE, "expires" datetime NOT NULL, "scope" text NOT NULL, "created" datetime NOT NULL, "updated" datetime NOT NULL, "application_id" bigint NULL REFERENCES {application} ("id") DEFERRABLE INITIALLY DEFERRED, "user_id" integer NULL REFERENCES {user} ("id") DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX IF NOT EXISTS "{idtoken_}_application_id_idx" ON {idtoken} ("application_id");
CREATE INDEX IF NOT EXISTS "{idtoken_}_user_id_idx" ON {idtoken} ("user_id");
CREATE TABLE IF NOT EXISTS {accesstoken} ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "token" text NOT NULL, "expires" datetime NOT NULL, "scope" text NOT NULL, "application_id" bigint NULL REFERENCES {application} ("id") DEFERRABLE INITIALLY DEFERRED, "user_id" integer NULL REFERENCES {user} ("id") DEFERRABLE INITIALLY DEFERRED, "created" datetime NOT NULL, "updated" datetime NOT NULL, "source_refresh_token_id" bigint NULL UNIQUE REFERENCES {refreshtoken} ("id") DEFERRABLE INITIALLY DEFERRED, "id_token_id" bigint NULL UNIQUE REFERENCES {idtoken} ("id") DEFERRABLE INITIALLY DEFERRED, "token_checksum" varchar(64) NOT NULL UNIQUE, "resource" text NOT NULL CHECK ((JSON_VALID("resource") OR "resource" IS NULL)));
CREATE INDEX IF NOT EXISTS "{accesstoken_}_application_id_idx" ON {accesstoken} ("application_id");
CREATE INDEX IF NOT EXISTS "{accesstoken_}_user_id_idx" ON {accesstoken} ("user_id");
CREATE TABLE IF NOT EXISTS {grant} ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "code" varchar(255) NOT NULL UNIQUE, "expires" datetime NOT NULL, "redirect_uri" text NOT NULL, "scope" text NOT NULL, "application_id" bigint NOT NULL REFERENCES {application} ("id") DEFERRABLE INITIALLY DEFERRED, "user_id" integer NOT NULL REFERENCES {user} ("id") DEFERRABLE INITIALLY DEFERRED, "created" datetime NOT NULL, "updated" datetime NOT NULL, "code_challenge" varchar(128) NOT NULL, "code_challenge_method" varchar(10) NOT NULL, "nonce" varchar(255) NOT NULL, "claims" text NOT NULL, "resource" text NOT NULL CHECK ((JSON_VALID("resource") OR "resource" IS NULL)));
CREATE INDEX IF NOT EXISTS "{grant_}_application_id_idx" ON {grant} ("application_id");
CREATE INDEX IF NOT EXISTS "{grant_}_user_id_idx" ON {grant} ("user_id");
CREATE TABLE IF NOT EXISTS {refreshtoken} ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "token" text NOT NULL, "access_token_id" bigint NULL UNIQUE REFERENCES {accesstoken} ("id") DEFERRABLE INITIALLY DEFERRED, "application_id" bigint NOT NULL REFERENCES {application} ("id") DEFERRABLE INITIALLY DEFERRED, "user_id" integer NOT NULL REFERENCES {user} ("id") DEFERRABLE INITIALLY DEFERRED, "created" datetime NOT NULL, "updated" datetime NOT NULL, "revoked" datetime NULL, "token_family" char(32) NULL, "token_checksum" varchar(64) NOT NULL, "resource" text NOT NULL CHECK ((JSON_VALID("resource") OR "resource" IS NULL)));
CREATE UNIQUE INDEX IF NOT EXISTS "{refreshtoken_}_token_checksum_revoked_uniq" ON {refreshtoken} ("token_checksum", "revoked");
CREATE INDEX IF NOT EXISTS "{refreshtoken_}_application_id_idx" ON {refreshtoken} ("application_id");
CREATE INDEX IF NOT EXISTS "{refreshtoken_}_user_id_idx" ON {refreshtoken} ("user_id");
CREATE INDEX IF NOT EXISTS "{refreshtoken_}_token_family_idx" ON {refreshtoken} ("token_family");
`

const postgresSchema = `
CREATE TABLE IF NOT EXISTS {migrations} (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, app varchar(255) NOT NULL, name varchar(255) NOT NULL, applied timestamp with time zone NOT NULL);
CREATE TABLE IF NOT EXISTS {user} (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, password varchar(128) NOT NULL, last_login timestamp with time zone, is_superuser boolean NOT NULL, username varchar(150) NOT NULL UNIQUE, first_name varchar(150) NOT NULL, last_name varchar(150) NOT NULL, email varchar(254) NOT NULL, is_staff boolean NOT NULL, is_active boolean NOT NULL, date_joined timestamp with time zone NOT NULL);
CREATE TABLE IF NOT EXISTS {application} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, client_id varchar(255) NOT NULL UNIQUE, redirect_uris text NOT NULL, client_type varchar(32) NOT NULL, authorization_grant_type varchar(44) NOT NULL, client_secret varchar(255) NOT NULL, name varchar(255) NOT NULL, user_id integer REFERENCES {user}(id) DEFERRABLE INITIALLY DEFERRED, skip_authorization boolean NOT NULL, created timestamp with time zone NOT NULL, updated timestamp with time zone NOT NULL, algorithm varchar(5) NOT NULL, post_logout_redirect_uris text NOT NULL, hash_client_secret boolean NOT NULL, allowed_origins text NOT NULL, registration_source varchar(32) NOT NULL, cimd_expires_at timestamp with time zone);
CREATE INDEX IF NOT EXISTS "{application_}_client_secret_idx" ON {application} (client_secret);
CREATE INDEX IF NOT EXISTS "{application_}_user_id_idx" ON {application} (user_id);
CREATE TABLE IF NOT EXISTS {idtoken} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, jti uuid NOT NULL UNIQUE, expires timestamp with time zone NOT NULL, scope text NOT NULL, created timestamp with time zone NOT NULL, updated timestamp with time zone NOT NULL, application_id bigint REFERENCES {application}(id) DEFERRABLE INITIALLY DEFERRED, user_id integer REFERENCES {user}(id) DEFERRABLE INITIALLY DEFERRED);
CREATE INDEX IF NOT EXISTS "{idtoken_}_application_id_idx" ON {idtoken} (application_id);
CREATE INDEX IF NOT EXISTS "{idtoken_}_user_id_idx" ON {idtoken} (user_id);
CREATE TABLE IF NOT EXISTS {accesstoken} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, token text NOT NULL, expires timestamp with time zone NOT NULL, scope text NOT NULL, application_id bigint REFERENCES {application}(id) DEFERRABLE INITIALLY DEFERRED, user_id integer REFERENCES {user}(id) DEFERRABLE INITIALLY DEFERRED, created timestamp with time zone NOT NULL, updated timestamp with time zone NOT NULL, source_refresh_token_id bigint UNIQUE, id_token_id bigint UNIQUE REFERENCES {idtoken}(id) DEFERRABLE INITIALLY DEFERRED, token_checksum varchar(64) NOT NULL UNIQUE, resource jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS "{accesstoken_}_application_id_idx" ON {accesstoken} (application_id);
CREATE INDEX IF NOT EXISTS "{accesstoken_}_user_id_idx" ON {accesstoken} (user_id);
CREATE TABLE IF NOT EXISTS {grant} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, code varchar(255) NOT NULL UNIQUE, expires timestamp with time zone NOT NULL, redirect_uri text NOT NULL, scope text NOT NULL, application_id bigint NOT NULL REFERENCES {application}(id) DEFERRABLE INITIALLY DEFERRED, user_id integer NOT NULL REFERENCES {user}(id) DEFERRABLE INITIALLY DEFERRED, created timestamp with time zone NOT NULL, updated timestamp with time zone NOT NULL, code_challenge varchar(128) NOT NULL, code_challenge_method varchar(10) NOT NULL, nonce varchar(255) NOT NULL, claims text NOT NULL, resource jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS "{grant_}_application_id_idx" ON {grant} (application_id);
CREATE INDEX IF NOT EXISTS "{grant_}_user_id_idx" ON {grant} (user_id);
CREATE TABLE IF NOT EXISTS {refreshtoken} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, token text NOT NULL, access_token_id bigint UNIQUE REFERENCES {accesstoken}(id) DEFERRABLE INITIALLY DEFERRED, application_id bigint NOT NULL REFERENCES {application}(id) DEFERRABLE INITIALLY DEFERRED, user_id integer NOT NULL REFERENCES {user}(id) DEFERRABLE INITIALLY DEFERRED, created timestamp with time zone NOT NULL, updated timestamp with time zone NOT NULL, revoked timestamp with time zone, token_family uuid, token_checksum varchar(64) NOT NULL, resource jsonb NOT NULL, CONSTRAINT "{refreshtoken_}_token_checksum_revoked_uniq" UNIQUE (token_checksum, revoked));
CREATE INDEX IF NOT EXISTS "{refreshtoken_}_application_id_idx" ON {refreshtoken} (application_id);
CREATE INDEX IF NOT EXISTS "{refreshtoken_}_user_id_idx" ON {refreshtoken} (user_id);
CREATE INDEX IF NOT EXISTS "{refreshtoken_}_token_family_idx" ON {refreshtoken} (token_family);
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = '{accesstoken_}_source_refresh_token_fk' AND conrelid = '{accesstoken}'::regclass) THEN
    ALTER TABLE {accesstoken} ADD CONSTRAINT "{accesstoken_}_source_refresh_token_fk" FOREIGN KEY (source_refresh_token_id) REFERENCES {refreshtoken}(id) DEFERRABLE INITIALLY DEFERRED;
  END IF;
END $$;
`
