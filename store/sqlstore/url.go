package sqlstore

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/oauthkit/oauthkit/store"
)

// DataSource is where a database URL points: a driver and its data source.
type DataSource struct {
	// Dialect is the database the URL names.
	Dialect Dialect
	// DSN is what the driver's Open takes. It may hold a password: never
	// print it.
	DSN string
	// Path is the SQLite file path (empty for the other databases).
	Path string
	// Display is the URL with every credential replaced: safe for messages.
	Display string

	// secrets are the credentials in the URL, as written and decoded, so
	// that a driver error echoing them can be scrubbed.
	secrets []string
	// driver is database/sql's name of the driver to open it with, where
	// a database has more than one (PostgreSQL: lib/pq or pgx).
	driver string
}

// credentialParams are query parameters that carry a credential: lib/pq
// takes password and sslpassword from the query as well as from the user
// info, and other drivers have similar ones.
var credentialParams = map[string]bool{"password": true, "sslpassword": true, "passwd": true, "pass": true}

// ParseURL understands the database URLs that dj-database-url and
// SQLAlchemy users already have: postgres://… and postgresql://…
// (PostgreSQL), mysql://… and mariadb://… (MySQL/MariaDB), sqlite:PATH, sqlite:///RELATIVE/PATH and
// sqlite:////ABSOLUTE/PATH (three slashes: relative, four: absolute). The
// scheme is case-insensitive. Errors match store.ErrInvalidURL and never
// hold the URL's password.
func ParseURL(raw string) (DataSource, error) {
	if strings.TrimSpace(raw) == "" {
		return DataSource{}, fmt.Errorf("empty database URL: %w", store.ErrInvalidURL)
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/@?#") {
		return DataSource{}, fmt.Errorf("the database URL has no scheme (want %s): %w", schemeList(), store.ErrInvalidURL)
	}
	scheme = strings.ToLower(scheme)
	var d dialect
	for _, x := range dialects {
		for _, s := range x.schemes() {
			if s == scheme {
				d = x
			}
		}
	}
	if d == nil {
		if !schemeToken.MatchString(scheme) {
			// Not a URL at all (a libpq "key=value" string, say, which may
			// hold a password): nothing of it is shown.
			return DataSource{}, fmt.Errorf("the database URL does not start with a scheme (want %s): %w", schemeList(), store.ErrInvalidURL)
		}
		return DataSource{}, fmt.Errorf("database URL scheme %q is not supported (want %s): %w", truncate(scheme, 20), schemeList(), store.ErrInvalidURL)
	}
	// The driver gets the scheme in lower case: some compare it exactly and
	// would otherwise take the URL for another form and echo it whole.
	normal := scheme + ":" + rest
	if !strings.HasPrefix(rest, "//") {
		return d.parseURL(normal, scheme, nil)
	}
	if err := checkAuthority(scheme, rest); err != nil {
		return DataSource{}, err
	}
	u, err := url.Parse(normal)
	if err != nil {
		// url.Parse's error quotes the whole URL: say what is wrong
		// without it.
		return DataSource{}, fmt.Errorf("the %s URL does not parse (%s): %w", scheme, parseProblem(err), store.ErrInvalidURL)
	}
	if p := u.Port(); p != "" {
		for _, c := range p {
			if c < '0' || c > '9' {
				return DataSource{}, fmt.Errorf("the %s URL's port is not a number (a password holding '/', '?' or '#' must be percent-encoded): %w", scheme, store.ErrInvalidURL)
			}
		}
	}
	return d.parseURL(normal, scheme, u)
}

// schemeToken is what a URL scheme may be (RFC 3986), so that a scheme
// that is not one is not echoed.
var schemeToken = regexp.MustCompile(`^[a-z][a-z0-9+.-]{0,31}$`)

// checkAuthority refuses a URL whose user info seems to hold an unencoded
// '/', '?' or '#': the parser would take part of the password for the
// host, show it, and look it up in DNS. An '@' after the authority gives it
// away, unless the authority has user info already (then the later '@' is
// data) or the '@' is inside a user=… query value (user=me@server).
func checkAuthority(scheme, rest string) error {
	after := strings.TrimPrefix(rest, "//")
	end := strings.IndexAny(after, "/?#")
	if end < 0 || strings.Contains(after[:end], "@") {
		return nil
	}
	tail := after[end:]
	at := strings.IndexByte(tail, '@')
	if at < 0 {
		return nil
	}
	if q := strings.IndexByte(tail, '?'); q >= 0 && q < at && !strings.Contains(tail[:at], "#") {
		params := strings.Split(tail[q+1:at], "&")
		if last := params[len(params)-1]; strings.HasPrefix(strings.ToLower(last), "user=") {
			return nil
		}
	}
	return fmt.Errorf("the %s URL has an '@' after its host: a password holding '/', '?' or '#' must be percent-encoded (%%2F, %%3F, %%23): %w", scheme, store.ErrInvalidURL)
}

func parseProblem(err error) string {
	var ue *url.Error
	if e, ok := err.(*url.Error); ok {
		ue = e
		err = ue.Err
	}
	msg := err.Error()
	// url's messages quote the offending part, which may be a password.
	if i := strings.IndexAny(msg, "\"'"); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	return msg
}

// redactedDisplay shows a hierarchical URL with its password and every
// credential-bearing query parameter replaced, built from the parsed parts.
func redactedDisplay(u *url.URL) (display string, secrets []string) {
	c := *u
	c.Fragment, c.RawFragment = "", ""
	if pw, ok := u.User.Password(); ok {
		secrets = append(secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
		c.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	for k, vs := range q {
		if credentialParams[strings.ToLower(k)] {
			for i, v := range vs {
				secrets = append(secrets, v, url.QueryEscape(v))
				vs[i] = "xxxxx"
			}
		}
	}
	c.RawQuery = q.Encode()
	return c.String(), secrets
}

func schemeList() string {
	var all []string
	for _, d := range dialects {
		all = append(all, d.urlForms()...)
	}
	return strings.Join(all, ", ")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
