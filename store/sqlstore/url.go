package sqlstore

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/oauthkit/oauthkit/store"
)

// Target is where a database URL points: a driver and its data source.
type Target struct {
	// Dialect is DialectPostgres or DialectSQLite.
	Dialect Dialect
	// DSN is what database/sql's Open takes for the driver. For PostgreSQL it
	// is the URL as given (it may hold a password: never print it).
	DSN string
	// Path is the SQLite file path (empty for PostgreSQL).
	Path string
	// Display is the URL with any password replaced, safe for messages.
	Display string
}

// ParseURL understands the database URLs of SPEC section 4:
// postgres://… and postgresql://… (lib/pq), sqlite:PATH and sqlite:///ABS/PATH.
func ParseURL(raw string) (Target, error) {
	if strings.TrimSpace(raw) == "" {
		return Target{}, fmt.Errorf("empty database URL: %w", store.ErrInvalidURL)
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return Target{}, fmt.Errorf("database URL %q has no scheme (want postgres://…, postgresql://… or sqlite:PATH): %w", redactLoose(raw), store.ErrInvalidURL)
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		u, err := url.Parse(raw)
		if err != nil {
			return Target{}, fmt.Errorf("database URL %q does not parse: %w", redactLoose(raw), store.ErrInvalidURL)
		}
		if !strings.HasPrefix(rest, "//") {
			return Target{}, fmt.Errorf("database URL %q: want postgres://[user[:password]@]host[:port]/dbname: %w", u.Redacted(), store.ErrInvalidURL)
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return Target{}, fmt.Errorf("database URL %q names no host: %w", u.Redacted(), store.ErrInvalidURL)
		}
		if p := u.Port(); p != "" {
			for _, c := range p {
				if c < '0' || c > '9' {
					return Target{}, fmt.Errorf("database URL %q: port %q is not a number: %w", u.Redacted(), p, store.ErrInvalidURL)
				}
			}
		}
		return Target{Dialect: DialectPostgres, DSN: raw, Display: u.Redacted()}, nil
	case "sqlite", "sqlite3":
		path := rest
		if strings.HasPrefix(rest, "//") {
			// sqlite:///ABS/PATH: an empty host, then an absolute path.
			after := strings.TrimPrefix(rest, "//")
			if !strings.HasPrefix(after, "/") {
				return Target{}, fmt.Errorf("database URL %q: want sqlite:PATH or sqlite:///ABSOLUTE/PATH (no host): %w", raw, store.ErrInvalidURL)
			}
			path = after
		}
		if path == "" {
			return Target{}, fmt.Errorf("database URL %q names no file: %w", raw, store.ErrInvalidURL)
		}
		if strings.ContainsRune(path, 0) {
			return Target{}, fmt.Errorf("database URL %q: file name holds a NUL byte: %w", raw, store.ErrInvalidURL)
		}
		return Target{Dialect: DialectSQLite, Path: path, DSN: sqliteDSN(path, false), Display: "sqlite:" + path}, nil
	default:
		return Target{}, fmt.Errorf("database URL scheme %q is not supported (want postgres, postgresql or sqlite): %w", scheme, store.ErrInvalidURL)
	}
}

// sqliteDSN builds modernc.org/sqlite's URI for a file. mode=rw keeps
// SQLite from creating a file the user merely named; foreign keys are on
// (as Django turns them on) so deferred constraints are checked at commit;
// _txlock=immediate takes the write lock at BEGIN, so a batch never fails
// half-way on a lock upgrade.
func sqliteDSN(path string, create bool) string {
	mode := "rw"
	if create {
		mode = "rwc"
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?mode=" + mode +
		"&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_txlock=immediate"
}

// redactLoose hides anything that looks like a password in a URL that did
// not parse: everything between "://" and "@".
func redactLoose(raw string) string {
	i := strings.Index(raw, "://")
	j := strings.LastIndex(raw, "@")
	if i >= 0 && j > i {
		return raw[:i+3] + "***" + raw[j:]
	}
	return raw
}
