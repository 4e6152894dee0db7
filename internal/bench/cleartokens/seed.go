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
	// seed makes a copy in layout l with n access-token slots of shape sh,
	// and returns its URL and how to drop it.
	seed(sh shape, l sqlstoretest.Layout, n int, now time.Time) (string, func())
}

// seeder is what one database needs to say to fill a copy: a timestamp
// seconds from now, a checksum, a series of ids.
type seeder interface {
	sqlOps
	// at is the timestamp sec (an SQL expression) seconds after now.
	at(sec string) string
	// checksum is a unique 64-character token_checksum for id i, in an
	// order unrelated to the ids, as the SHA-256 of real tokens are.
	checksum(i string) string
	// jti is a unique 32-character ID token jti for id i.
	jti(i string) string
	// each runs body, a SELECT list and WHERE over i, for i in 1…m, in
	// INSERT … SELECT statements (prefix is the INSERT's head).
	each(db *sqlx.DB, m int64, prefix, selectList, where string)
}

// fill seeds the tables with shape sh in layout l: the same rows on every
// database.
func fill(db *sqlx.DB, q seeder, sh shape, l sqlstoretest.Layout, n int64, now string) {
	v341 := l == sqlstoretest.DOT341 || l == sqlstoretest.DOTMain
	db.MustExec(`INSERT INTO auth_user (id, password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
VALUES (1, '!', false, 'u', '', '', '', false, true, ` + now + `)`)
	appCols, appVals := "", ""
	if v341 {
		appCols, appVals = ", registration_source", ", 'manual'"
	}
	db.MustExec(`INSERT INTO oauth2_provider_application (id, client_id, redirect_uris, client_type, authorization_grant_type, client_secret, name, user_id,
skip_authorization, created, updated, algorithm, post_logout_redirect_uris, hash_client_secret, allowed_origins` + appCols + `)
VALUES (1, 'c', '', 'confidential', 'password', '', 'bench', 1, false, ` + now + `, ` + now + `, '', '', true, ''` + appVals + `)`)
	res, resVal := "", ""
	if v341 {
		res, resVal = ", resource", ", '[]'"
	}
	m := sh.slots(n)
	access, idTok, live, revoked := sh.access(q, n), sh.idToken(q, n), sh.liveRefresh(q, n), sh.revoked(q, n)
	exp := q.at(sh.expires(q, n))
	q.each(db, m, `INSERT INTO oauth2_provider_idtoken (id, jti, expires, scope, created, updated, application_id, user_id)`,
		`i, `+q.jti("i")+`, `+exp+`, 'openid', `+now+`, `+now+`, 1, 1`, `(`+access+`) AND (`+idTok+`)`)
	q.each(db, m, `INSERT INTO oauth2_provider_accesstoken (id, token, token_checksum, expires, scope, application_id, user_id, created, updated, id_token_id, source_refresh_token_id`+res+`)`,
		`i, `+concat(q, "'tok'", "i")+`, `+q.checksum("i")+`, `+exp+`, 'read write', 1, 1, `+now+`, `+now+`, CASE WHEN `+idTok+` THEN i END, `+sh.source(q, n)+resVal,
		access)
	rtCols, rtVals := "", ""
	if v341 {
		rtCols, rtVals = ", token_checksum, resource", ", "+q.checksum("i")+", '[]'"
	}
	q.each(db, m, `INSERT INTO oauth2_provider_refreshtoken (id, token, access_token_id, application_id, user_id, created, updated, revoked`+rtCols+`)`,
		`i, `+concat(q, "'rt'", "i")+`, CASE WHEN `+revoked+` THEN NULL ELSE i END, 1, 1, `+now+`, `+now+`, CASE WHEN `+revoked+` THEN `+q.at(sh.revokedAt(q, n))+` END`+rtVals,
		`(`+live+`) OR (`+revoked+`)`)
	q.each(db, sh.grants(n), `INSERT INTO oauth2_provider_grant (id, code, expires, redirect_uri, scope, application_id, user_id, created, updated, code_challenge,
code_challenge_method, nonce, claims`+res+`)`,
		`i, `+concat(q, "'code'", "i")+`, `+q.at(sh.grantExpires(q, n))+`, 'https://example.com/cb', 'read', 1, 1, `+now+`, `+now+`, '', '', '', ''`+resVal, "1 = 1")
}

func concat(q seeder, a, b string) string {
	if _, ok := q.(mysqlSeed); ok {
		return "CONCAT(" + a + ", " + b + ")"
	}
	return a + " || " + b
}

type postgresCopies struct{ base string }

type postgresSeed struct{ now string }

func (postgresSeed) div(a, b string) string { return "(" + a + ") / (" + b + ")" }
func (s postgresSeed) at(sec string) string {
	return "(" + s.now + " + (" + sec + ") * interval '1 second')"
}
func (postgresSeed) checksum(i string) string {
	return "lpad(((" + i + ")::bigint * 2654435761 % 1000000007)::text, 20, '0') || lpad((" + i + ")::text, 44, '0')"
}
func (postgresSeed) jti(i string) string { return "md5((" + i + ")::text)::uuid" }
func (postgresSeed) each(db *sqlx.DB, m int64, prefix, sel, where string) {
	db.MustExec(prefix + "\nSELECT " + sel + " FROM generate_series(1::bigint, " + fmt.Sprint(m) + ") AS s(i) WHERE " + where)
}

func (c postgresCopies) seed(sh shape, l sqlstoretest.Layout, n int, now time.Time) (string, func()) {
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
	db.SetMaxOpenConns(1)
	ddl, err := sqlstoretest.Schema(sqlstore.DialectPostgres, l)
	must(err)
	db.MustExec(ddl)
	// The foreign keys are deferred: checked once, at COMMIT.
	db.MustExec(`BEGIN`)
	t := "TIMESTAMPTZ '" + now.UTC().Format(time.RFC3339Nano) + "'"
	fill(db, postgresSeed{now: t}, sh, l, int64(n), t)
	db.MustExec(`COMMIT`)
	db.MustExec(`VACUUM ANALYZE`)
	return u.String(), func() {
		admin := sqlx.MustOpen("postgres", c.base)
		defer admin.Close()
		admin.MustExec(`DROP SCHEMA ` + schema + ` CASCADE`)
	}
}

// sqliteCopies seeds files in dir, in the journal mode journal ("delete"
// or "wal"; a database keeps WAL mode once set, so every later connection,
// the cleaner's and the sqlite3 command line's, uses it too).
type sqliteCopies struct{ dir, journal string }

type sqliteSeed struct{ now string }

func (sqliteSeed) div(a, b string) string { return "(" + a + ") / (" + b + ")" }
func (s sqliteSeed) at(sec string) string {
	return "datetime(" + s.now + ", (" + sec + ") || ' seconds')"
}
func (sqliteSeed) checksum(i string) string {
	return "printf('%020d%044d', (" + i + ") * 2654435761 % 1000000007, " + i + ")"
}
func (sqliteSeed) jti(i string) string { return "printf('%032d', " + i + ")" }
func (sqliteSeed) each(db *sqlx.DB, m int64, prefix, sel, where string) {
	db.MustExec(prefix + "\nWITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < " + fmt.Sprint(m) + ")\nSELECT " + sel + " FROM s WHERE " + where)
}

func (c sqliteCopies) seed(sh shape, l sqlstoretest.Layout, n int, now time.Time) (string, func()) {
	dir, err := os.MkdirTemp(c.dir, "oauthkit-bench-")
	must(err)
	path := filepath.Join(dir, "db.sqlite3")
	db := sqlx.MustOpen("sqlite", "file:"+path+"?_pragma=foreign_keys(0)&_pragma=journal_mode("+c.journal+")&_pragma=synchronous(off)")
	defer db.Close()
	db.SetMaxOpenConns(1)
	ddl, err := sqlstoretest.Schema(sqlstore.DialectSQLite, l)
	must(err)
	for _, stmt := range splitSQL(ddl) {
		db.MustExec(stmt)
	}
	t := "'" + sqlstore.DjangoSQLiteTime(now) + "'"
	db.MustExec(`BEGIN`)
	fill(db, sqliteSeed{now: t}, sh, l, int64(n), t)
	db.MustExec(`COMMIT`)
	db.MustExec(`ANALYZE`)
	return "sqlite:" + path, func() { os.RemoveAll(dir) }
}

type mysqlCopies struct{ base string }

type mysqlSeed struct{ now string }

func (mysqlSeed) div(a, b string) string { return "(" + a + ") DIV (" + b + ")" }
func (s mysqlSeed) at(sec string) string {
	return "TIMESTAMPADD(SECOND, " + sec + ", " + s.now + ")"
}
func (mysqlSeed) checksum(i string) string {
	return "CONCAT(LPAD((" + i + ") * 2654435761 % 1000000007, 20, '0'), LPAD(" + i + ", 44, '0'))"
}
func (mysqlSeed) jti(i string) string { return "LPAD(" + i + ", 32, '0')" }

// each: MariaDB has no series function; 10^5 combinations of digits make
// a chunk of ids, offset chunk by chunk.
func (mysqlSeed) each(db *sqlx.DB, m int64, prefix, sel, where string) {
	const chunk = 100000
	for off := int64(0); off < m; off += chunk {
		db.MustExec(prefix + "\nSELECT " + sel + fmt.Sprintf(` FROM (SELECT %d + a.x + 10*b.x + 100*c.x + 1000*d.x + 10000*e.x + 1 AS i
FROM bench_digits a, bench_digits b, bench_digits c, bench_digits d, bench_digits e) s WHERE i <= %d AND (`, off, m) + where + `)`)
	}
}

func (c mysqlCopies) seed(sh shape, l sqlstoretest.Layout, n int, now time.Time) (string, func()) {
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
	ddl, err := sqlstoretest.Schema(sqlstore.DialectMySQL, l)
	must(err)
	for _, stmt := range splitSQL(ddl) {
		db.MustExec(stmt)
	}
	db.MustExec(`SET SESSION foreign_key_checks = 0, unique_checks = 0`)
	db.MustExec(`CREATE TABLE bench_digits (x int PRIMARY KEY)`)
	db.MustExec(`INSERT INTO bench_digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)`)
	t := "TIMESTAMP'" + now.UTC().Format("2006-01-02 15:04:05.000000") + "'"
	fill(db, mysqlSeed{now: t}, sh, l, int64(n), t)
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
