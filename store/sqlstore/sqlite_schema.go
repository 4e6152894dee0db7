package sqlstore

import (
	"context"
	"strings"

	"github.com/jmoiron/sqlx"
)

// DOT 3.4.1's tables as its migrations 0001–0022 leave them on SQLite
// (Django 4.2), with {placeholders} for the configured table names and
// {name_} for the bare names constraints and indexes are named after.
// Foreign keys are DEFERRABLE INITIALLY DEFERRED with no ON DELETE action,
// and no column has a database default, exactly as Django creates them.
const sqliteSchemaDDL = `
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

func (sqliteDialect) migrate(ctx context.Context, db *sqlx.DB, r *strings.Replacer) error {
	return runInTx(ctx, db, splitStatements(sqliteSchemaDDL), r)
}
