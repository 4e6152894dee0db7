package sqlstore

import (
	"context"
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
const mysqlSchemaDDL = `
CREATE TABLE IF NOT EXISTS {migrations} (id int NOT NULL AUTO_INCREMENT, app varchar(255) NOT NULL, name varchar(255) NOT NULL, applied datetime(6) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {user} (id int NOT NULL AUTO_INCREMENT, password varchar(128) NOT NULL, last_login datetime(6) DEFAULT NULL, is_superuser tinyint(1) NOT NULL, username varchar(150) NOT NULL, first_name varchar(150) NOT NULL, last_name varchar(150) NOT NULL, email varchar(254) NOT NULL, is_staff tinyint(1) NOT NULL, is_active tinyint(1) NOT NULL, date_joined datetime(6) NOT NULL, PRIMARY KEY (id), UNIQUE KEY (username)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {application} (id bigint NOT NULL AUTO_INCREMENT, client_id varchar(255) NOT NULL, redirect_uris longtext NOT NULL, client_type varchar(32) NOT NULL, authorization_grant_type varchar(44) NOT NULL, client_secret varchar(255) NOT NULL, name varchar(255) NOT NULL, user_id int DEFAULT NULL, skip_authorization tinyint(1) NOT NULL, created datetime(6) NOT NULL, updated datetime(6) NOT NULL, algorithm varchar(5) NOT NULL, post_logout_redirect_uris longtext NOT NULL, hash_client_secret tinyint(1) NOT NULL, allowed_origins longtext NOT NULL, registration_source varchar(32) NOT NULL, cimd_expires_at datetime(6) DEFAULT NULL, PRIMARY KEY (id), UNIQUE KEY (client_id), KEY (user_id), KEY (client_secret), FOREIGN KEY (user_id) REFERENCES {user} (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {idtoken} (id bigint NOT NULL AUTO_INCREMENT, jti char(32) NOT NULL, expires datetime(6) NOT NULL, scope longtext NOT NULL, created datetime(6) NOT NULL, updated datetime(6) NOT NULL, application_id bigint DEFAULT NULL, user_id int DEFAULT NULL, PRIMARY KEY (id), UNIQUE KEY (jti), KEY (application_id), KEY (user_id), FOREIGN KEY (application_id) REFERENCES {application} (id), FOREIGN KEY (user_id) REFERENCES {user} (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {accesstoken} (id bigint NOT NULL AUTO_INCREMENT, token longtext NOT NULL, expires datetime(6) NOT NULL, scope longtext NOT NULL, application_id bigint DEFAULT NULL, user_id int DEFAULT NULL, created datetime(6) NOT NULL, updated datetime(6) NOT NULL, source_refresh_token_id bigint DEFAULT NULL, id_token_id bigint DEFAULT NULL, token_checksum varchar(64) NOT NULL, resource longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL CHECK (json_valid(resource)), PRIMARY KEY (id), UNIQUE KEY (token_checksum), UNIQUE KEY (source_refresh_token_id), UNIQUE KEY (id_token_id), KEY (application_id), KEY (user_id), FOREIGN KEY (application_id) REFERENCES {application} (id), FOREIGN KEY (id_token_id) REFERENCES {idtoken} (id), FOREIGN KEY (user_id) REFERENCES {user} (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {refreshtoken} (id bigint NOT NULL AUTO_INCREMENT, token longtext NOT NULL, access_token_id bigint DEFAULT NULL, application_id bigint NOT NULL, user_id int NOT NULL, created datetime(6) NOT NULL, updated datetime(6) NOT NULL, revoked datetime(6) DEFAULT NULL, token_family char(32) DEFAULT NULL, token_checksum varchar(64) NOT NULL, resource longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL CHECK (json_valid(resource)), PRIMARY KEY (id), UNIQUE KEY (access_token_id), UNIQUE KEY (token_checksum, revoked), KEY (application_id), KEY (user_id), KEY (token_family), FOREIGN KEY (access_token_id) REFERENCES {accesstoken} (id), FOREIGN KEY (application_id) REFERENCES {application} (id), FOREIGN KEY (user_id) REFERENCES {user} (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {lock} (name varchar(64) NOT NULL, holder varchar(191) NOT NULL, expires datetime(6) NOT NULL, PRIMARY KEY (name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS {grant} (id bigint NOT NULL AUTO_INCREMENT, code varchar(255) NOT NULL, expires datetime(6) NOT NULL, redirect_uri longtext NOT NULL, scope longtext NOT NULL, application_id bigint NOT NULL, user_id int NOT NULL, created datetime(6) NOT NULL, updated datetime(6) NOT NULL, code_challenge varchar(128) NOT NULL, code_challenge_method varchar(10) NOT NULL, nonce varchar(255) NOT NULL, claims longtext NOT NULL, resource longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL CHECK (json_valid(resource)), PRIMARY KEY (id), UNIQUE KEY (code), KEY (application_id), KEY (user_id), FOREIGN KEY (application_id) REFERENCES {application} (id), FOREIGN KEY (user_id) REFERENCES {user} (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
`

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
