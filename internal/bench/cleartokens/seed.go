package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// copier makes fresh copies of the benchmark's database, seeded alike.
type copier interface {
	// seed makes a copy with n access tokens and their company, and
	// returns its URL and how to drop it.
	seed(n int, now time.Time) (string, func())
}

// The mix, the same on every database (ids are fixed, so copies are
// identical): access tokens 1..N, 80% expired 1 to 30 days ago and 20%
// live (i % 5 = 0); those with i % 5 in (0, 1) carry an ID token of the
// same expiry; 30% (i % 10 in 0, 4, 7) have a live refresh token; N/10
// revoked refresh tokens (ids N+1…, unlinked, as DOT leaves them) revoked
// 0 to 9 days ago; the access token with i % 10 = 2 was issued by rotating
// the revoked refresh token N + i/10; N/10 grants, 90% expired.

type postgresCopies struct{ base string }

func (c postgresCopies) seed(n int, now time.Time) (string, func()) {
	admin := sqlx.MustOpen("postgres", c.base)
	defer admin.Close()
	schema := fmt.Sprintf("oauthkit_bench_%d_%d", n, time.Now().UnixNano())
	admin.MustExec(`CREATE SCHEMA ` + schema)
	u, err := url.Parse(c.base)
	must(err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db := sqlx.MustOpen("postgres", u.String())
	defer db.Close()
	ddl, err := sqlstoretest.Schema(sqlstore.DialectPostgres, sqlstoretest.DOT301)
	must(err)
	db.MustExec(ddl)
	db.MustExec(`INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
VALUES (1, '!', false, 'u', '', '', '', false, true, $1)`, now)
	db.MustExec(`INSERT INTO oauth2_provider_application (id, client_id, redirect_uris, client_type, authorization_grant_type, client_secret, name, user_id,
skip_authorization, created, updated, algorithm, post_logout_redirect_uris, hash_client_secret, allowed_origins)
VALUES (1, 'c', '', 'confidential', 'password', '', 'bench', 1, false, $1, $1, '', '', true, '')`, now)
	exp := `CASE WHEN i % 5 = 0 THEN $1::timestamptz + interval '1 hour' ELSE $1::timestamptz - (i % 30 + 1) * interval '1 day' END`
	db.MustExec(`INSERT INTO oauth2_provider_idtoken (id, jti, expires, scope, created, updated, application_id, user_id)
SELECT i, md5(i::text)::uuid, `+exp+`, 'openid', $1, $1, 1, 1 FROM generate_series(1, $2) i WHERE i % 5 IN (0, 1)`, now, n)
	db.MustExec(`INSERT INTO oauth2_provider_accesstoken (id, token, token_checksum, expires, scope, application_id, user_id, created, updated, id_token_id)
SELECT i, 'tok' || i, lpad(i::text, 64, '0'), `+exp+`, 'read write', 1, 1, $1, $1, CASE WHEN i % 5 IN (0, 1) THEN i END
FROM generate_series(1, $2) i`, now, n)
	db.MustExec(`INSERT INTO oauth2_provider_refreshtoken (id, token, access_token_id, application_id, user_id, created, updated, revoked)
SELECT i, 'rt' || i, i, 1, 1, $1, $1, NULL FROM generate_series(1, $2) i WHERE i % 10 IN (0, 4, 7)`, now, n)
	db.MustExec(`INSERT INTO oauth2_provider_refreshtoken (id, token, access_token_id, application_id, user_id, created, updated, revoked)
SELECT $2 + j, 'rv' || j, NULL, 1, 1, $1, $1, $1::timestamptz - (j % 10) * interval '1 day' FROM generate_series(1, $2 / 10) j`, now, n)
	db.MustExec(`UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = $1 + (id / 10) WHERE id % 10 = 2 AND id / 10 BETWEEN 1 AND $1 / 10`, n)
	db.MustExec(`INSERT INTO oauth2_provider_grant (id, code, expires, redirect_uri, scope, application_id, user_id, created, updated, code_challenge,
code_challenge_method, nonce, claims)
SELECT g, 'code' || g, CASE WHEN g % 10 = 0 THEN $1::timestamptz + interval '10 minutes' ELSE $1::timestamptz - (g % 30) * interval '1 hour' END,
'https://example.com/cb', 'read', 1, 1, $1, $1, '', '', '', '' FROM generate_series(1, $2 / 10) g`, now, n)
	db.MustExec(`VACUUM ANALYZE`)
	return u.String(), func() {
		admin := sqlx.MustOpen("postgres", c.base)
		defer admin.Close()
		admin.MustExec(`DROP SCHEMA ` + schema + ` CASCADE`)
	}
}

type sqliteCopies struct{ dir string }

func (c sqliteCopies) seed(n int, now time.Time) (string, func()) {
	dir, err := os.MkdirTemp(c.dir, "oauthkit-bench-")
	must(err)
	path := filepath.Join(dir, "db.sqlite3")
	db := sqlx.MustOpen("sqlite", "file:"+path+"?_pragma=foreign_keys(0)&_pragma=journal_mode(delete)&_pragma=synchronous(off)")
	defer db.Close()
	ddl, err := sqlstoretest.Schema(sqlstore.DialectSQLite, sqlstoretest.DOT301)
	must(err)
	for _, stmt := range splitSQL(ddl) {
		db.MustExec(stmt)
	}
	t := sqlstore.DjangoSQLiteTime(now)
	tx := db.MustBegin()
	tx.MustExec(`INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
VALUES (1, '!', false, 'u', '', '', '', false, true, ?)`, t)
	tx.MustExec(`INSERT INTO oauth2_provider_application (id, client_id, redirect_uris, client_type, authorization_grant_type, client_secret, name, user_id,
skip_authorization, created, updated, algorithm, post_logout_redirect_uris, hash_client_secret, allowed_origins)
VALUES (1, 'c', '', 'confidential', 'password', '', 'bench', 1, false, ?, ?, '', '', true, '')`, t, t)
	series := `WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?2) `
	exp := `CASE WHEN i % 5 = 0 THEN datetime(?1, '+1 hour') ELSE datetime(?1, '-' || (i % 30 + 1) || ' days') END`
	tx.MustExec(`INSERT INTO oauth2_provider_idtoken (id, jti, expires, scope, created, updated, application_id, user_id)
`+series+`SELECT i, printf('%032d', i), `+exp+`, 'openid', ?1, ?1, 1, 1 FROM s WHERE i % 5 IN (0, 1)`, t, n)
	tx.MustExec(`INSERT INTO oauth2_provider_accesstoken (id, token, token_checksum, expires, scope, application_id, user_id, created, updated, id_token_id)
`+series+`SELECT i, 'tok' || i, printf('%064d', i), `+exp+`, 'read write', 1, 1, ?1, ?1, CASE WHEN i % 5 IN (0, 1) THEN i END FROM s`, t, n)
	tx.MustExec(`INSERT INTO oauth2_provider_refreshtoken (id, token, access_token_id, application_id, user_id, created, updated, revoked)
`+series+`SELECT i, 'rt' || i, i, 1, 1, ?1, ?1, NULL FROM s WHERE i % 10 IN (0, 4, 7)`, t, n)
	tx.MustExec(`INSERT INTO oauth2_provider_refreshtoken (id, token, access_token_id, application_id, user_id, created, updated, revoked)
`+series+`SELECT ?2 + i, 'rv' || i, NULL, 1, 1, ?1, ?1, datetime(?1, '-' || (i % 10) || ' days') FROM s WHERE i <= ?2 / 10`, t, n)
	tx.MustExec(`UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = ?1 + (id / 10) WHERE id % 10 = 2 AND id / 10 BETWEEN 1 AND ?1 / 10`, n)
	tx.MustExec(`INSERT INTO oauth2_provider_grant (id, code, expires, redirect_uri, scope, application_id, user_id, created, updated, code_challenge,
code_challenge_method, nonce, claims)
`+series+`SELECT i, 'code' || i, CASE WHEN i % 10 = 0 THEN datetime(?1, '+10 minutes') ELSE datetime(?1, '-' || (i % 30) || ' hours') END,
'https://example.com/cb', 'read', 1, 1, ?1, ?1, '', '', '', '' FROM s WHERE i <= ?2 / 10`, t, n)
	must(tx.Commit())
	db.MustExec(`ANALYZE`)
	return "sqlite:" + path, func() { os.RemoveAll(dir) }
}

type mysqlCopies struct{ base string }

func (c mysqlCopies) seed(n int, now time.Time) (string, func()) {
	ds, err := sqlstore.ParseURL(c.base)
	must(err)
	admin := sqlx.MustOpen("mysql", ds.DSN)
	defer admin.Close()
	name := fmt.Sprintf("oauthkit_bench_%d_%d", n, time.Now().UnixNano())
	admin.MustExec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
	u, err := url.Parse(c.base)
	must(err)
	u.Path = "/" + name
	dsn, err := sqlstore.ParseURL(u.String())
	must(err)
	db := sqlx.MustOpen("mysql", dsn.DSN)
	defer db.Close()
	db.SetMaxOpenConns(1)
	ddl, err := sqlstoretest.Schema(sqlstore.DialectMySQL, sqlstoretest.DOT301)
	must(err)
	for _, stmt := range splitSQL(ddl) {
		db.MustExec(stmt)
	}
	t := now.UTC().Format("2006-01-02 15:04:05.000000")
	db.MustExec(`SET SESSION foreign_key_checks = 0, unique_checks = 0`)
	db.MustExec(`INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
VALUES (1, '!', false, 'u', '', '', '', false, true, ?)`, t)
	db.MustExec(`INSERT INTO oauth2_provider_application (id, client_id, redirect_uris, client_type, authorization_grant_type, client_secret, name, user_id,
skip_authorization, created, updated, algorithm, post_logout_redirect_uris, hash_client_secret, allowed_origins)
VALUES (1, 'c', '', 'confidential', 'password', '', 'bench', 1, false, ?, ?, '', '', true, '')`, t, t)
	db.MustExec(`CREATE TABLE bench_digits (x int PRIMARY KEY)`)
	db.MustExec(`INSERT INTO bench_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)`)
	// A series in chunks of 100,000: 10^5 combinations of digits, offset.
	const chunk = 100000
	series := `(SELECT ? + a.x + 10*b.x + 100*c.x + 1000*d.x + 10000*e.x + 1 AS i FROM bench_digits a, bench_digits b, bench_digits c, bench_digits d, bench_digits e) s`
	exp := `CASE WHEN i % 5 = 0 THEN DATE_ADD(?, INTERVAL 1 HOUR) ELSE DATE_SUB(?, INTERVAL (i % 30 + 1) DAY) END`
	for off := 0; off < n; off += chunk {
		db.MustExec(`INSERT INTO oauth2_provider_idtoken (id, jti, expires, scope, created, updated, application_id, user_id)
SELECT i, LPAD(i, 32, '0'), `+exp+`, 'openid', ?, ?, 1, 1 FROM `+series+` WHERE i <= ? AND i % 5 IN (0, 1)`, t, t, t, t, off, n)
		db.MustExec(`INSERT INTO oauth2_provider_accesstoken (id, token, token_checksum, expires, scope, application_id, user_id, created, updated, id_token_id)
SELECT i, CONCAT('tok', i), LPAD(i, 64, '0'), `+exp+`, 'read write', 1, 1, ?, ?, CASE WHEN i % 5 IN (0, 1) THEN i END FROM `+series+` WHERE i <= ?`, t, t, t, t, off, n)
		db.MustExec(`INSERT INTO oauth2_provider_refreshtoken (id, token, access_token_id, application_id, user_id, created, updated, revoked)
SELECT i, CONCAT('rt', i), i, 1, 1, ?, ?, NULL FROM `+series+` WHERE i <= ? AND i % 10 IN (0, 4, 7)`, t, t, off, n)
	}
	for off := 0; off < n/10; off += chunk {
		db.MustExec(`INSERT INTO oauth2_provider_refreshtoken (id, token, access_token_id, application_id, user_id, created, updated, revoked)
SELECT ? + i, CONCAT('rv', i), NULL, 1, 1, ?, ?, DATE_SUB(?, INTERVAL (i % 10) DAY) FROM `+series+` WHERE i <= ?`, n, t, t, t, off, n/10)
		db.MustExec(`INSERT INTO oauth2_provider_grant (id, code, expires, redirect_uri, scope, application_id, user_id, created, updated, code_challenge,
code_challenge_method, nonce, claims)
SELECT i, CONCAT('code', i), CASE WHEN i % 10 = 0 THEN DATE_ADD(?, INTERVAL 10 MINUTE) ELSE DATE_SUB(?, INTERVAL (i % 30) HOUR) END,
'https://example.com/cb', 'read', 1, 1, ?, ?, '', '', '', '' FROM `+series+` WHERE i <= ?`, t, t, t, t, off, n/10)
	}
	db.MustExec(`UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = ? + (id DIV 10) WHERE id % 10 = 2 AND id DIV 10 BETWEEN 1 AND ? DIV 10`, n, n)
	db.MustExec(`DROP TABLE bench_digits`)
	db.MustExec(`SET SESSION foreign_key_checks = 1, unique_checks = 1`)
	for _, tbl := range []string{access, refresh, idtoken, grant} {
		db.MustExec(`ANALYZE TABLE ` + tbl)
	}
	return u.String(), func() {
		admin := sqlx.MustOpen("mysql", ds.DSN)
		defer admin.Close()
		admin.MustExec("DROP DATABASE `" + name + "`")
	}
}

// splitSQL splits a schema dump into statements, leaving out comments.
func splitSQL(ddl string) []string {
	var out []string
	for _, stmt := range strings.Split(ddl, ";\n") {
		body := ""
		for _, line := range strings.Split(stmt, "\n") {
			if len(line) >= 2 && line[:2] == "--" {
				continue
			}
			body += line + "\n"
		}
		if trimmed := strings.TrimSpace(body); trimmed != "" {
			out = append(out, trimmed)
		}
	}
	return out
}
