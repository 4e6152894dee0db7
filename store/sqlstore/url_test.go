package sqlstore_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

func TestParseURL(t *testing.T) {
	good := map[string]struct {
		dialect sqlstore.Dialect
		path    string
	}{
		"postgres://u:p@127.0.0.1:5432/db?sslmode=disable": {sqlstore.DialectPostgres, ""},
		"postgresql://localhost/db":                        {sqlstore.DialectPostgres, ""},
		"sqlite:db.sqlite3":                                {sqlstore.DialectSQLite, "db.sqlite3"},
		"mysql://u:p@127.0.0.1:3306/dot?tls=false":         {sqlstore.DialectMySQL, ""},
		"MariaDB://u@db.internal/dot":                      {sqlstore.DialectMySQL, ""},
		"sqlite:/srv/app/db.sqlite3":                       {sqlstore.DialectSQLite, "/srv/app/db.sqlite3"},
		"sqlite:///db.sqlite3":                             {sqlstore.DialectSQLite, "db.sqlite3"},
		"sqlite:///data/db.sqlite3":                        {sqlstore.DialectSQLite, "data/db.sqlite3"},
		"sqlite:////srv/app/db.sqlite3":                    {sqlstore.DialectSQLite, "/srv/app/db.sqlite3"},
		"SQLite:////srv/app/db.sqlite3":                    {sqlstore.DialectSQLite, "/srv/app/db.sqlite3"},
	}
	for raw, want := range good {
		tg, err := sqlstore.ParseURL(raw)
		require.NoError(t, err, raw)
		assert.Equal(t, want.dialect, tg.Dialect, raw)
		assert.Equal(t, want.path, tg.Path, raw)
	}
	for _, bad := range []string{"", "db.sqlite3", "oracle://h/db", "mysql:///db", "mysql://h", "sqlite:", "sqlite://host/x", "sqlite:///", "sqlite://", "postgres:db", "postgres:///db", "postgres://h:port/db"} {
		_, err := sqlstore.ParseURL(bad)
		assert.True(t, errors.Is(err, store.ErrInvalidURL), "%q: %v", bad, err)
	}
	_, err := sqlstore.ParseURL("postgres://u:hunter2@h:x/db")
	assert.NotContains(t, err.Error(), "hunter2")
}

func TestOpenRejectsBadTables(t *testing.T) {
	_, err := sqlstore.Open(context.Background(), "sqlite:x.db", sqlstore.WithTables(store.Tables{Grant: `g"; DROP TABLE x; --`}))
	assert.True(t, errors.Is(err, store.ErrInvalidIdentifier), "%v", err)
}

// Every way a password can sit in a URL: none of them shows in what is
// safe to print, in a parse error, or in the error of a failed connection.
func TestPasswordNeverShown(t *testing.T) {
	const pw = "Hunter2Secret"
	for _, raw := range []string{
		"postgres://u:" + pw + "@127.0.0.1:1/db?sslmode=disable",
		"POSTGRES://u:" + pw + "@127.0.0.1:1/db?sslmode=disable",
		"PostgreSQL://u:" + pw + "@127.0.0.1:1/db?sslmode=disable",
		"postgres://u@127.0.0.1:1/db?sslmode=disable&password=" + pw,
		"postgres://127.0.0.1:1/db?sslmode=disable&PASSWORD=" + pw,
		"mysql://u:" + pw + "@127.0.0.1:1/db",
		"MARIADB://u:" + pw + "@127.0.0.1:1/db",
	} {
		ds, err := sqlstore.ParseURL(raw)
		require.NoError(t, err, raw)
		assert.NotContains(t, ds.Display, pw, raw)
		_, err = sqlstore.Open(context.Background(), raw)
		require.Error(t, err, raw)
		assert.True(t, errors.Is(err, store.ErrUnreachable), "%s: %v", raw, err)
		assert.NotContains(t, err.Error(), pw, raw)
	}
	// Forms that cannot be read: refused without echoing the URL.
	for _, raw := range []string{
		"postgres:u:" + pw + "@127.0.0.1/db",        // opaque, no //
		"postgres://u:" + pw + "/x@127.0.0.1/db",    // unencoded '/'
		"postgres://u:" + pw + "?x@127.0.0.1/db",    // unencoded '?'
		"postgres://u:" + pw + "#x@127.0.0.1/db",    // unencoded '#'
		"postgres://u:" + pw + "%zz@127.0.0.1/db",   // bad escape
		"postgres://u:" + pw + "@127.0.0.1:port/db", // bad port
		"postgres://u:" + pw + "@[::1/db",           // bad IPv6 host
		"mysqlx://u:" + pw + "@127.0.0.1/db",        // unknown scheme
		"postgres//u:" + pw + "@127.0.0.1/db",       // no scheme
	} {
		_, err := sqlstore.ParseURL(raw)
		require.Error(t, err, raw)
		assert.True(t, errors.Is(err, store.ErrInvalidURL), "%s: %v", raw, err)
		assert.NotContains(t, err.Error(), pw, raw)
		assert.NotContains(t, err.Error(), "127.0.0.1", "%s: the URL is not echoed: %v", raw, err)
	}
	// Strings that are no URL, or name what no sqlite URL may: nothing of
	// them is echoed.
	for _, raw := range []string{"password=" + pw + " host=::1 dbname=x", "sqlite://user:" + pw + "@host/db", "Password=" + pw} {
		_, err := sqlstore.ParseURL(raw)
		require.Error(t, err, raw)
		assert.NotContains(t, strings.ToLower(err.Error()), strings.ToLower(pw), raw)
	}
	// A query value may hold an '@' (a user name in a query): not refused.
	_, err := sqlstore.ParseURL("postgres://127.0.0.1/db?user=me@example")
	assert.NoError(t, err)
}

// A property: for random passwords, percent-encoded as they must be, the
// display and every error of Open leave the password out.
func TestRandomPasswordsNeverShown(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/?#@:%+&=!$'()*,;[]~-._"
	for i := 0; i < 200; i++ {
		b := make([]byte, 8+rng.IntN(16))
		for j := range b {
			b[j] = chars[rng.IntN(len(chars))]
		}
		pw := string(b)
		for _, raw := range []string{
			"postgres://" + url.UserPassword("u", pw).String() + "@127.0.0.1:1/db?sslmode=disable",
			"postgres://u@127.0.0.1:1/db?sslmode=disable&password=" + url.QueryEscape(pw),
		} {
			ds, err := sqlstore.ParseURL(raw)
			if err == nil {
				assert.NotContains(t, ds.Display, pw, raw)
				_, err = sqlstore.Open(context.Background(), raw)
			}
			require.Error(t, err)
			assert.NotContains(t, err.Error(), pw, raw)
			assert.NotContains(t, err.Error(), url.QueryEscape(pw), raw)
		}
	}
}

// mysql:// as dj-database-url writes it becomes the driver's DSN, with
// oauthkit's own settings (UTC, parsed times) whatever the URL says.
func TestMySQLURL(t *testing.T) {
	ds, err := sqlstore.ParseURL("mysql://dot:s3cret@db.internal:3307/oauth?loc=Local&timeout=5s")
	require.NoError(t, err)
	assert.Equal(t, "mysql://dot:xxxxx@db.internal:3307/oauth?loc=Local&timeout=5s", ds.Display)
	cfg, err := mysql.ParseDSN(ds.DSN)
	require.NoError(t, err)
	assert.Equal(t, "db.internal:3307", cfg.Addr)
	assert.Equal(t, "oauth", cfg.DBName)
	assert.Equal(t, "dot", cfg.User)
	assert.Equal(t, time.UTC, cfg.Loc, "times are UTC, as Django stores them")
	assert.True(t, cfg.ParseTime)
	assert.Equal(t, 5*time.Second, cfg.Timeout, "the URL's own options pass through")
	ds, err = sqlstore.ParseURL("mysql://root@localhost/dot?unix_socket=/run/mysqld/mysqld.sock")
	require.NoError(t, err)
	cfg, err = mysql.ParseDSN(ds.DSN)
	require.NoError(t, err)
	assert.Equal(t, "unix", cfg.Net)
	assert.Equal(t, "/run/mysqld/mysqld.sock", cfg.Addr)
}

// No URL runs SQL: a MySQL option the driver does not know becomes a
// session variable whose value is spliced into SET unquoted, so a password
// option or an expression is refused; plain words and one quoted string
// pass. lib/pq does not know sslpassword, which would reach the server.
func TestURLsThatWouldRunSQL(t *testing.T) {
	for _, raw := range []string{
		"mysql://u:old@127.0.0.1:3306/db?password=PASSWORD(%27new%27)",
		"mysql://u@127.0.0.1:3306/db?passwd=x",
		"mysql://u@127.0.0.1:3306/db?sql_mode=(SELECT+1)",
		"mysql://u@127.0.0.1:3306/db?time_zone=%27a%27%2C%27b%27",
		"postgres://u@127.0.0.1:5432/db?sslpassword=S3cr3tPw",
	} {
		_, err := sqlstore.ParseURL(raw)
		require.Error(t, err, raw)
		assert.ErrorIs(t, err, store.ErrInvalidURL, raw)
		assert.NotContains(t, err.Error(), "PASSWORD(", raw)
		assert.NotContains(t, err.Error(), "S3cr3tPw", raw)
	}
	for _, raw := range []string{
		"mysql://u@127.0.0.1:3306/db?time_zone=%27%2B00:00%27",
		"mysql://u@127.0.0.1:3306/db?tls=skip-verify&timeout=5s&charset=utf8mb4,utf8&collation=utf8mb4_general_ci",
		"mysql://u@127.0.0.1:3306/db?unix_socket=/run/mysqld/mysqld.sock",
	} {
		_, err := sqlstore.ParseURL(raw)
		assert.NoError(t, err, raw)
	}
}

// The password a ?password= option would have set is never changed: the
// URL is refused before any connection (tested against the server).
func TestMySQLPasswordOptionChangesNothing(t *testing.T) {
	u := sqlstoretest.NewMySQLDatabase(t)
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	q := parsed.Query()
	q.Set("password", "PASSWORD('new')")
	parsed.RawQuery = q.Encode()
	_, err = sqlstore.Open(context.Background(), parsed.String())
	require.ErrorIs(t, err, store.ErrInvalidURL)
	st, err := sqlstore.Open(context.Background(), u)
	require.NoError(t, err, "the account still logs in as before")
	st.Close()
}
