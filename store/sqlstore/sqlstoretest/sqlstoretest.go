// Package sqlstoretest is test support for package sqlstore and the code
// built on it: a fresh database holding the tables of a real
// django-oauth-toolkit deployment (the schema dumps in testdata/, made by
// DOT's own migrations, embedded here), loaded into a temporary SQLite file
// or a private PostgreSQL schema, with helpers that seed and inspect rows
// the way DOT writes them. Its Env is the storetest.Harness of sqlstore.
//
// It is for tests and benchmarks only: it fails the test on any error.
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx", for WithPgx
	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	_ "github.com/oauthkit/oauthkit/store/sqlstore/mysql"    // links mysql
	_ "github.com/oauthkit/oauthkit/store/sqlstore/postgres" // links postgres
	_ "github.com/oauthkit/oauthkit/store/sqlstore/sqlite"   // links sqlite
	"github.com/oauthkit/oauthkit/store/storetest"
)

// Layout is the DOT version whose migrations made the schema.
type Layout = storetest.Layout

const (
	DOT301  = storetest.DOT301
	DOT341  = storetest.DOT341
	DOTMain = storetest.DOTMain
)

// Layouts are the DOT generations served, oldest first.
var Layouts = storetest.Layouts

//go:embed testdata/*.sql
var schemas embed.FS

// Schema is the DDL of a real DOT deployment of layout l on database d,
// from testdata/ (see its README for how each file was made).
func Schema(d sqlstore.Dialect, l Layout) (string, error) {
	b, err := schemas.ReadFile(fmt.Sprintf("testdata/dot-%s-%s.sql", l, schemaNames[d]))
	return string(b), err
}

// Env is one fresh database.
type Env struct {
	Dialect sqlstore.Dialect
	Layout  Layout
	// URL opens the same database (for running the commands).
	URL   string
	Store *sqlstore.Store
	// DB is a raw handle for seeding and inspecting.
	DB *sqlx.DB

	user, app int64
	seq       *atomic.Int64
	// q is where the seeding helpers write: DB, or the transaction of InTx.
	q sqlx.Ext
}

func (e *Env) queryer() sqlx.Ext {
	if e.q != nil {
		return e.q
	}
	return e.DB
}

// InTx runs fn with every seeding helper writing in one transaction, which
// is much faster for many rows.
func (e *Env) InTx(t testing.TB, fn func()) {
	t.Helper()
	tx := e.DB.MustBegin()
	e.q = tx
	defer func() { e.q = nil }()
	fn()
	require.NoError(t, tx.Commit())
}

// PostgresURL returns OAUTHKIT_TEST_POSTGRES, or skips the test when it is
// unset (fails instead under OAUTHKIT_REQUIRE_POSTGRES=1).
func PostgresURL(t testing.TB) string {
	u := os.Getenv("OAUTHKIT_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("OAUTHKIT_REQUIRE_POSTGRES") == "1" {
			t.Fatal("OAUTHKIT_REQUIRE_POSTGRES=1 but OAUTHKIT_TEST_POSTGRES is unset")
		}
		t.Skip("OAUTHKIT_TEST_POSTGRES is unset: skipping PostgreSQL")
	}
	return u
}

// MySQLURL returns OAUTHKIT_TEST_MYSQL (a mysql:// URL), or skips the test
// when it is unset (fails instead under OAUTHKIT_REQUIRE_MYSQL=1).
func MySQLURL(t testing.TB) string {
	u := os.Getenv("OAUTHKIT_TEST_MYSQL")
	if u == "" {
		if os.Getenv("OAUTHKIT_REQUIRE_MYSQL") == "1" {
			t.Fatal("OAUTHKIT_REQUIRE_MYSQL=1 but OAUTHKIT_TEST_MYSQL is unset")
		}
		t.Skip("OAUTHKIT_TEST_MYSQL is unset: skipping MySQL/MariaDB")
	}
	return u
}

// mysqlDriverDSN is the driver's data source for a mysql:// URL.
func mysqlDriverDSN(t testing.TB, u string) string {
	ds, err := sqlstore.ParseURL(u)
	require.NoError(t, err)
	return ds.DSN
}

// NewMySQLDatabase creates an empty database (utf8mb4, as Django's) on the
// test server and returns its mysql:// URL; it is dropped when the test ends.
func NewMySQLDatabase(t testing.TB) string {
	base := MySQLURL(t)
	admin, err := sqlx.Open("mysql", mysqlDriverDSN(t, base))
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	name := "oauthkit_test_" + randomHex(6)
	_, err = admin.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
	require.NoError(t, err, "create database on %s", base)
	t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS `" + name + "`") }) //nolint:errcheck
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

func newMySQL(t testing.TB, l Layout) *Env { return loadMySQL(t, NewMySQLDatabase(t), l) }

// loadMySQL loads layout l's tables into the database of URL u.
func loadMySQL(t testing.TB, u string, l Layout) *Env {
	raw, err := sqlx.Open("mysql", mysqlDriverDSN(t, u))
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close() })
	for _, stmt := range strings.Split(readSchema(t, sqlstore.DialectMySQL, l), ";\n") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		_, err := raw.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	return &Env{Dialect: sqlstore.DialectMySQL, Layout: l, URL: u, DB: raw}
}

// backend is how the harness makes and speaks to one kind of database.
type backend struct {
	create func(t testing.TB, l Layout) *Env
	time   func(time.Time) any
	uuid   func(hex string) string
}

var backends = map[sqlstore.Dialect]backend{
	sqlstore.DialectSQLite: {create: newSQLite,
		time: func(t time.Time) any { return sqlstore.DjangoSQLiteTime(t) }, uuid: func(h string) string { return h }},
	sqlstore.DialectPostgres: {create: newPostgres,
		time: func(t time.Time) any { return t.UTC() }, uuid: dashedUUID},
	sqlstore.DialectMySQL: {create: newMySQL,
		time: func(t time.Time) any { return t.UTC().Truncate(time.Microsecond).Format("2006-01-02 15:04:05.000000") },
		uuid: func(h string) string { return h }},
}

// schemaNames name each database in the testdata file names.
var schemaNames = map[sqlstore.Dialect]string{sqlstore.DialectSQLite: "sqlite", sqlstore.DialectPostgres: "postgres", sqlstore.DialectMySQL: "mariadb"}

func dashedUUID(h string) string {
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Dialects lists the databases tests run on.
var Dialects = []sqlstore.Dialect{sqlstore.DialectSQLite, sqlstore.DialectPostgres, sqlstore.DialectMySQL}

// ForEach runs fn as a subtest on every dialect × layout, in parallel.
func ForEach(t *testing.T, fn func(t *testing.T, env *Env)) { ForLayouts(t, Layouts, fn) }

// ForLayouts is ForEach on some layouts only: for the heaviest tests, the
// oldest and the newest layout (3.0.1 and DOT main, whose token tables
// hold all of 3.4.1's) cover the rules and the columns.
func ForLayouts(t *testing.T, layouts []Layout, fn func(t *testing.T, env *Env)) {
	for _, d := range Dialects {
		for _, l := range layouts {
			t.Run(fmt.Sprintf("%s/dot-%s", d, l), func(t *testing.T) {
				t.Parallel()
				fn(t, New(t, d, l))
			})
		}
	}
}

// New makes a fresh database with the reference schema of layout loaded.
// Options are given to the Store it opens.
func New(t testing.TB, d sqlstore.Dialect, l Layout, opts ...sqlstore.Option) *Env {
	t.Helper()
	b, ok := backends[d]
	if !ok {
		t.Fatalf("sqlstoretest: no harness for dialect %q", d)
	}
	return openStore(t, b.create(t, l), opts...)
}

// openStore opens e's Store on e.URL.
func openStore(t testing.TB, e *Env, opts ...sqlstore.Option) *Env {
	t.Helper()
	e.seq = new(atomic.Int64)
	s, err := sqlstore.Open(context.Background(), e.URL, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	e.Store = s
	return e
}

func readSchema(t testing.TB, d sqlstore.Dialect, l Layout) string {
	s, err := Schema(d, l)
	require.NoError(t, err)
	return s
}

// NewEmptySQLite returns the path of a SQLite file with no tables.
func NewEmptySQLite(t testing.TB) string {
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	db, err := sqlx.Open("sqlite", "file:"+path)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE unrelated (id integer)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	return path
}

func newSQLite(t testing.TB, l Layout) *Env { return NewSQLiteIn(t, t.TempDir(), l) }

// NewSQLiteIn makes db.sqlite3 in folder dir with layout l's tables (not
// opening a Store on it).
func NewSQLiteIn(t testing.TB, dir string, l Layout) *Env {
	e := OpenSQLite(t, filepath.Join(dir, "db.sqlite3"), l)
	raw := e.DB
	for _, stmt := range strings.Split(readSchema(t, sqlstore.DialectSQLite, l), ";\n") {
		if strings.TrimSpace(stripComments(stmt)) == "" {
			continue
		}
		_, err := raw.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	return e
}

// OpenSQLite is an Env (with no Store) on the SQLite file at path, of
// layout l.
func OpenSQLite(t testing.TB, path string, l Layout) *Env {
	raw, err := sqlx.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	raw.SetMaxOpenConns(1)
	t.Cleanup(func() { raw.Close() })
	return &Env{Dialect: sqlstore.DialectSQLite, Layout: l, URL: "sqlite:" + path, DB: raw, seq: new(atomic.Int64)}
}

func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// NewPostgresSchema creates an empty schema and returns a URL whose
// search_path points at it; the schema is dropped when the test ends.
func NewPostgresSchema(t testing.TB) string {
	base := PostgresURL(t)
	admin, err := sqlx.Open("postgres", base)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	schema := "oauthkit_test_" + randomHex(6)
	_, err = admin.Exec(`CREATE SCHEMA ` + schema)
	require.NoError(t, err, "create schema on %s", base)
	t.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) }) //nolint:errcheck
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func newPostgres(t testing.TB, l Layout) *Env {
	u := NewPostgresSchema(t)
	raw, err := sqlx.Open("postgres", u)
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close() })
	_, err = raw.Exec(readSchema(t, sqlstore.DialectPostgres, l))
	require.NoError(t, err)
	return &Env{Dialect: sqlstore.DialectPostgres, Layout: l, URL: u, DB: raw}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // never fails
	return hex.EncodeToString(b)
}

// Time converts t to what the database stores (Django's text on SQLite).
func (e *Env) Time(t time.Time) any { return backends[e.Dialect].time(t) }

func (e *Env) insert(t testing.TB, q string, args ...any) int64 {
	t.Helper()
	if e.Dialect == sqlstore.DialectMySQL {
		res, err := e.queryer().Exec(q, args...)
		require.NoError(t, err, q)
		id, err := res.LastInsertId()
		require.NoError(t, err)
		return id
	}
	var id int64
	require.NoError(t, e.queryer().QueryRowx(e.DB.Rebind(q+" RETURNING id"), args...).Scan(&id), q)
	return id
}

// Exec runs a statement with ?-placeholders.
func (e *Env) Exec(t testing.TB, q string, args ...any) {
	t.Helper()
	_, err := e.queryer().Exec(e.DB.Rebind(q), args...)
	require.NoError(t, err, q)
}

func (e *Env) next() string { return fmt.Sprintf("%d-%s", e.seq.Add(1), randomHex(8)) }

// With returns a copy of e whose helpers write through q (a transaction of
// the caller's), for seeding from several goroutines at once. Call a
// helper on e first, so the owning user and application exist.
func (e *Env) With(q sqlx.Ext) *Env {
	c := *e
	c.q = q
	return &c
}

// User inserts an auth_user row.
func (e *Env) User(t testing.TB) int64 {
	now := e.Time(time.Now())
	return e.insert(t, `INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
VALUES ('!', false, ?, '', '', '', false, true, ?)`, "u"+e.next(), now)
}

func (e *Env) owner(t testing.TB) (int64, int64) {
	if e.user == 0 {
		e.user = e.User(t)
	}
	if e.app == 0 {
		e.app = e.Application(t, false, time.Time{})
	}
	return e.user, e.app
}

// Application inserts an application; with cimd (DOT 3.4.1 layout only)
// it is registered from a Client ID Metadata Document whose cache expires
// at cimdExpires (zero: NULL).
func (e *Env) Application(t testing.TB, cimd bool, cimdExpires time.Time) int64 {
	if e.user == 0 {
		e.user = e.User(t)
	}
	now := e.Time(time.Now())
	cols, vals, args := "", "", []any{"c" + e.next(), e.user, now, now}
	if e.Layout.AtLeast(DOT341) {
		source := "manual"
		if cimd {
			source = "cimd"
		}
		var exp any
		if !cimdExpires.IsZero() {
			exp = e.Time(cimdExpires)
		}
		cols, vals = ", registration_source, cimd_expires_at", ", ?, ?"
		args = append(args, source, exp)
	} else if cimd {
		t.Fatalf("the DOT %s layout has no CIMD columns", e.Layout)
	}
	if e.Layout.AtLeast(DOTMain) {
		cols, vals = cols+", client_jwks, client_jwks_uri, token_endpoint_auth_method", vals+", '', '', ''"
	}
	return e.insert(t, `INSERT INTO oauth2_provider_application (client_id, redirect_uris, client_type, authorization_grant_type, client_secret,
name, user_id, skip_authorization, created, updated, algorithm, post_logout_redirect_uris, hash_client_secret, allowed_origins`+cols+`)
VALUES (?, '', 'confidential', 'client-credentials', '', 'seed', ?, false, ?, ?, '', '', true, ''`+vals+`)`, args...)
}

// ForApplication returns a copy of e whose seeding helpers make tokens and
// grants of application app.
func (e *Env) ForApplication(t testing.TB, app int64) *Env {
	e.owner(t)
	c := *e
	c.app = app
	return &c
}

// AccessToken inserts an access token expiring at expires.
func (e *Env) AccessToken(t testing.TB, expires time.Time) int64 {
	user, app := e.owner(t)
	tok := "at" + e.next()
	sum := sha256.Sum256([]byte(tok))
	now := e.Time(time.Now())
	cols, vals := "", ""
	if e.Layout.AtLeast(DOT341) {
		cols, vals = ", resource", ", '[]'"
	}
	return e.insert(t, `INSERT INTO oauth2_provider_accesstoken (token, token_checksum, expires, scope, application_id, user_id, created, updated`+cols+`)
VALUES (?, ?, ?, 'read', ?, ?, ?, ?`+vals+`)`, tok, hex.EncodeToString(sum[:]), e.Time(expires), app, user, now, now)
}

// RefreshToken inserts a refresh token for accessToken (0: none), revoked
// at revoked (zero: not revoked).
func (e *Env) RefreshToken(t testing.TB, accessToken int64, revoked time.Time) int64 {
	user, app := e.owner(t)
	tok := "rt" + e.next()
	var at, rev any
	if accessToken != 0 {
		at = accessToken
	}
	if !revoked.IsZero() {
		rev = e.Time(revoked)
	}
	now := e.Time(time.Now())
	cols, vals, args := "", "", []any{tok, at, app, user, now, now, rev}
	if e.Layout.AtLeast(DOT341) {
		sum := sha256.Sum256([]byte(tok))
		cols, vals = ", token_checksum, resource", ", ?, '[]'"
		args = append(args, hex.EncodeToString(sum[:]))
	}
	return e.insert(t, `INSERT INTO oauth2_provider_refreshtoken (token, access_token_id, application_id, user_id, created, updated, revoked`+cols+`)
VALUES (?, ?, ?, ?, ?, ?, ?`+vals+`)`, args...)
}

// IDToken inserts an ID token expiring at expires.
func (e *Env) IDToken(t testing.TB, expires time.Time) int64 {
	user, app := e.owner(t)
	jti := backends[e.Dialect].uuid(randomHex(16))
	now := e.Time(time.Now())
	return e.insert(t, `INSERT INTO oauth2_provider_idtoken (jti, expires, scope, created, updated, application_id, user_id)
VALUES (?, ?, 'openid', ?, ?, ?, ?)`, jti, e.Time(expires), now, now, app, user)
}

// Grant inserts an authorization code expiring at expires.
func (e *Env) Grant(t testing.TB, expires time.Time) int64 {
	user, app := e.owner(t)
	now := e.Time(time.Now())
	cols, vals := "", ""
	if e.Layout.AtLeast(DOT341) {
		cols, vals = ", resource", ", '[]'"
	}
	return e.insert(t, `INSERT INTO oauth2_provider_grant (code, expires, redirect_uri, scope, application_id, user_id, created, updated,
code_challenge, code_challenge_method, nonce, claims`+cols+`) VALUES (?, ?, 'https://example.com/cb', 'read', ?, ?, ?, ?, '', '', '', ''`+vals+`)`,
		"g"+e.next(), e.Time(expires), app, user, now, now)
}

// PAR inserts a pushed authorization request expiring at expires, as DOT
// main's PAR endpoint stores one (DOTMain layout only: older layouts have
// no such table).
func (e *Env) PAR(t testing.TB, expires time.Time) int64 {
	t.Helper()
	if !e.Layout.AtLeast(DOTMain) {
		t.Fatalf("the DOT %s layout has no pushed authorization request table", e.Layout)
	}
	uri := "urn:ietf:params:oauth:request_uri:" + randomHex(16)
	return e.insert(t, `INSERT INTO oauth2_provider_pushedauthorizationrequest (request_uri, client_id, parameters, expires, created)
VALUES (?, ?, ?, ?, ?)`, uri, "c"+e.next(), `{"response_type": "code", "scope": "read"}`, e.Time(expires), e.Time(time.Now()))
}

// Link sets a column of one row, e.g. Link(t, "accesstoken", id, "id_token_id", idt).
func (e *Env) Link(t testing.TB, table string, id int64, column string, value any) {
	t.Helper()
	e.Exec(t, `UPDATE oauth2_provider_`+table+` SET `+column+` = ? WHERE id = ?`, value, id)
}

// IDs lists the ids left in oauth2_provider_<table>, ascending.
func (e *Env) IDs(t testing.TB, table string) []int64 {
	t.Helper()
	ids := []int64{}
	require.NoError(t, e.DB.Select(&ids, `SELECT id FROM oauth2_provider_`+table+` ORDER BY id`))
	return ids
}

// Int reads one integer (a count, a nullable id as 0).
func (e *Env) Int(t testing.TB, q string, args ...any) int64 {
	t.Helper()
	var v *int64
	require.NoError(t, e.DB.QueryRowx(e.DB.Rebind(q), args...).Scan(&v), q)
	if v == nil {
		return 0
	}
	return *v
}

// MarkMigrated records oauth2_provider migrations in django_migrations.
func (e *Env) MarkMigrated(t testing.TB, names ...string) {
	for _, n := range names {
		e.Exec(t, `INSERT INTO django_migrations (app, name, applied) VALUES ('oauth2_provider', ?, ?)`, n, e.Time(time.Now()))
	}
}

// SeedMix writes n access tokens and their company in a realistic,
// deterministic mix around base: about a quarter live, the rest expired 1
// to 72 hours before base; live refresh tokens on every fifth, revoked ones
// (unlinked, as DOT leaves them) on every seventh, ID tokens on every
// sixth, grants on every third, and rotated tokens. The same n, base and
// layout give the same rows and ids in a fresh database.
func (e *Env) SeedMix(t testing.TB, n int, base time.Time) {
	e.InTx(t, func() {
		var prevRevoked int64
		for i := 1; i <= n; i++ {
			exp := base.Add(-time.Duration(i%72+1) * time.Hour)
			if i%4 == 0 {
				exp = base.Add(time.Hour)
			}
			at := e.AccessToken(t, exp)
			if i%6 == 0 {
				e.Link(t, "accesstoken", at, "id_token_id", e.IDToken(t, exp))
			}
			if i%5 == 0 {
				e.RefreshToken(t, at, time.Time{})
			}
			if i%7 == 0 {
				prevRevoked = e.RefreshToken(t, 0, base.Add(-time.Duration(i%96)*time.Hour))
			}
			if i%11 == 0 && prevRevoked != 0 {
				// This access token was issued by rotating that refresh token.
				e.Link(t, "accesstoken", at, "source_refresh_token_id", prevRevoked)
				prevRevoked = 0
			}
			if i%3 == 0 {
				e.Grant(t, base.Add(time.Duration(i%48-24)*time.Hour))
			}
			if i%5 == 1 && e.Layout.AtLeast(DOTMain) {
				// Pushed requests live seconds to minutes; a backlog of
				// unredeemed ones, some live.
				e.PAR(t, base.Add(time.Duration(i%13-9)*time.Minute))
			}
		}
	})
}

// Snapshot lists the ids left in every table cleartokens cleans, for
// comparing runs.
func (e *Env) Snapshot(t testing.TB) map[string][]int64 {
	m := map[string][]int64{}
	for _, tbl := range e.CleanedTables() {
		m[tbl] = e.IDs(t, tbl)
	}
	return m
}

// CleanedTables are the tables (as IDs names them) that cleartokens
// cleans in e's layout: the four token tables, and DOT main's pushed
// authorization requests.
func (e *Env) CleanedTables() []string {
	tables := []string{"accesstoken", "refreshtoken", "idtoken", "grant"}
	if e.Layout.AtLeast(DOTMain) {
		tables = append(tables, string(storetest.PAR))
	}
	return tables
}

// AssertNoDanglingKeys fails the test if any foreign key between the
// token tables points at a row that is gone.
func (e *Env) AssertNoDanglingKeys(t testing.TB) {
	t.Helper()
	for _, q := range []string{
		`SELECT count(*) FROM oauth2_provider_accesstoken a WHERE a.source_refresh_token_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM oauth2_provider_refreshtoken r WHERE r.id = a.source_refresh_token_id)`,
		`SELECT count(*) FROM oauth2_provider_accesstoken a WHERE a.id_token_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM oauth2_provider_idtoken i WHERE i.id = a.id_token_id)`,
		`SELECT count(*) FROM oauth2_provider_refreshtoken r WHERE r.access_token_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM oauth2_provider_accesstoken a WHERE a.id = r.access_token_id)`,
	} {
		require.Zero(t, e.Int(t, q), q)
	}
}

// MakeReadOnly makes a file unwritable until the test ends: chmod for a
// normal user, the immutable attribute for root (whom chmod does not stop).
func MakeReadOnly(t testing.TB, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		require.NoError(t, os.Chmod(path, 0o444))
		t.Cleanup(func() { os.Chmod(path, 0o644) }) //nolint:errcheck
		return
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("cannot make %s read-only as root (chattr: %v %s)", path, err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() }) //nolint:errcheck
}

// PostgresURLAs is the test server's URL with another user and database,
// for connection failures that are not about the network.
func PostgresURLAs(t testing.TB, user, database string) string {
	u, err := url.Parse(PostgresURL(t))
	require.NoError(t, err)
	u.User = url.User(user)
	u.Path = "/" + database
	return u.String()
}

// Path is the SQLite file of an Env.
func (e *Env) Path() string { return strings.TrimPrefix(e.URL, "sqlite:") }

// Harness is e as the conformance suite (package storetest) sees it.
func (e *Env) Harness() storetest.Harness { return harness{e} }

// Opener is a storetest.Opener for dialect d; opts go to the Store.
func Opener(d sqlstore.Dialect, opts ...sqlstore.Option) storetest.Opener {
	return func(t *testing.T, l storetest.Layout) storetest.Harness { return New(t, d, l, opts...).Harness() }
}

type harness struct{ e *Env }

func (h harness) Store() store.Store       { return h.e.Store }
func (h harness) Layout() storetest.Layout { return h.e.Layout }
func (h harness) AccessToken(t testing.TB, expires time.Time) int64 {
	return h.e.AccessToken(t, expires)
}
func (h harness) RefreshToken(t testing.TB, at int64, revoked time.Time) int64 {
	return h.e.RefreshToken(t, at, revoked)
}
func (h harness) IDToken(t testing.TB, expires time.Time) int64 { return h.e.IDToken(t, expires) }
func (h harness) Grant(t testing.TB, expires time.Time) int64   { return h.e.Grant(t, expires) }
func (h harness) PAR(t testing.TB, expires time.Time) int64     { return h.e.PAR(t, expires) }
func (h harness) IDs(t testing.TB, table storetest.Table) []int64 {
	return h.e.IDs(t, string(table))
}

func (h harness) Link(t testing.TB, table storetest.Table, id int64, column string, value int64) {
	var v any
	if value != 0 {
		v = value
	}
	h.e.Link(t, string(table), id, column, v)
}

func (h harness) Ref(t testing.TB, table storetest.Table, id int64, column string) int64 {
	return h.e.Int(t, `SELECT `+column+` FROM oauth2_provider_`+string(table)+` WHERE id = ?`, id)
}

func (h harness) DeleteAllTokens(t testing.TB) {
	h.e.Exec(t, `UPDATE oauth2_provider_accesstoken SET source_refresh_token_id = NULL, id_token_id = NULL`)
	// Refresh tokens first: MariaDB checks their access_token_id at once.
	tables := []string{"refreshtoken", "accesstoken", "idtoken", "grant"}
	if h.e.Layout.AtLeast(DOTMain) {
		tables = append(tables, string(storetest.PAR))
	}
	for _, tbl := range tables {
		h.e.Exec(t, `DELETE FROM oauth2_provider_`+tbl)
	}
}

func (h harness) DropTable(t testing.TB, role string) {
	for _, nt := range store.DefaultTables().Named() {
		if nt.Role == role {
			h.e.Exec(t, `DROP TABLE `+nt.Name)
			return
		}
	}
	t.Fatalf("no table role %q", role)
}

func (h harness) MarkMigrated(t testing.TB, names ...string) { h.e.MarkMigrated(t, names...) }

func (h harness) Application(t testing.TB, cimd bool, cimdExpires time.Time) int64 {
	return h.e.Application(t, cimd, cimdExpires)
}

// App is the application h seeds tokens for.
func (h harness) App() int64 { return h.e.app }

func (h harness) ForApplication(t testing.TB, app int64) storetest.Harness {
	return harness{h.e.ForApplication(t, app)}
}

// NewPostgresAt loads layout l's tables into the database a PostgreSQL URL
// names (a private cluster's, say) and returns an Env on it.
func NewPostgresAt(t testing.TB, u string, l Layout) *Env {
	t.Helper()
	raw, err := sqlx.Open("postgres", u)
	require.NoError(t, err)
	t.Cleanup(func() { raw.Close() })
	_, err = raw.Exec(readSchema(t, sqlstore.DialectPostgres, l))
	require.NoError(t, err)
	return openStore(t, &Env{Dialect: sqlstore.DialectPostgres, Layout: l, URL: u, DB: raw})
}

// WithPgx returns e (a PostgreSQL Env) with its Store made by
// sqlstore.New on a pgx (github.com/jackc/pgx/v5/stdlib) handle of the
// same database, as a server on pgx embeds oauthkit; the raw DB stays on
// lib/pq, so seeding and inspecting do not depend on the driver under test.
func (e *Env) WithPgx(t testing.TB, opts ...sqlstore.Option) *Env {
	t.Helper()
	require.Equal(t, sqlstore.DialectPostgres, e.Dialect, "pgx is a PostgreSQL driver")
	db, err := sql.Open("pgx", e.URL)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	s, err := sqlstore.New(db, opts...)
	require.NoError(t, err)
	c := *e
	c.Store = s
	return &c
}

// PgxOpener is a storetest.Opener for PostgreSQL through pgx.
func PgxOpener(opts ...sqlstore.Option) storetest.Opener {
	return func(t *testing.T, l storetest.Layout) storetest.Harness {
		return New(t, sqlstore.DialectPostgres, l).WithPgx(t, opts...).Harness()
	}
}

func (h harness) User(t testing.TB) int64 { return h.e.User(t) }

func (h harness) OpenAnother(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), h.e.URL)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}
