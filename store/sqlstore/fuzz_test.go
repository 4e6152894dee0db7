package sqlstore_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
)

// FuzzParseURL: any string either parses to a known dialect or fails with
// ErrInvalidURL, and a password never shows in what is safe to print.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"postgres://u:secretpw@127.0.0.1:5432/db?sslmode=disable", "postgresql://localhost/db", "postgres:///db?host=/run/postgresql",
		"sqlite:db.sqlite3", "sqlite:///srv/db.sqlite3", "sqlite://host/x", "sqlite:", "mysql://x", "", ":", "postgres://u:p@h:x/db",
		"postgres://user:pa%40ss@h/db", "sqlite:%00", "SQLITE:x.db", "postgres://[::1]:5432/db",
		"POSTGRES://u:secretpw@h/db", "postgres://u@h/db?password=secretpw", "postgres://u@h/db?sslpassword=secretpw",
		"postgres:u:secretpw@h/db", "postgres://u:secret/pw@h/db", "postgres://u:secret?pw@h/db", "postgres://u:secret#pw@h/db",
		"postgres://h/db?user=me@srv", "postgres://u:123/x?y=1@h/db",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tg, err := sqlstore.ParseURL(raw)
		var password string
		if u, perr := url.Parse(raw); perr == nil {
			if u.User != nil {
				password, _ = u.User.Password()
			}
			if q := u.Query().Get("password"); q != "" && password == "" {
				password = q
			}
		}
		hidden := len(password) >= 6 && strings.Count(raw, password) == 1
		if err != nil {
			if !errors.Is(err, store.ErrInvalidURL) {
				t.Fatalf("%q: error %v does not match ErrInvalidURL", raw, err)
			}
			if hidden && strings.Contains(err.Error(), password) {
				t.Fatalf("%q: the error shows the password: %v", raw, err)
			}
			return
		}
		switch tg.Dialect {
		case sqlstore.DialectPostgres:
			if hidden && strings.Contains(tg.Display, password) {
				t.Fatalf("%q: Display shows the password: %s", raw, tg.Display)
			}
		case sqlstore.DialectSQLite:
			if tg.Path == "" || strings.ContainsRune(tg.Path, 0) {
				t.Fatalf("%q: bad SQLite path %q", raw, tg.Path)
			}
		default:
			t.Fatalf("%q: unknown dialect %q", raw, tg.Dialect)
		}
	})
}
