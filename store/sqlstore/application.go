package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/oauthkit/oauthkit/store"
)

// applicationColumns reads the application table's columns, so that an
// insert fits the layout in hand (DOT 3.0's or 3.4's). A table's layout
// does not change under a running process (Migrate resets the cache), so
// the catalog is read once, not on every create and lookup.
func (s *Store) applicationColumns(ctx context.Context) ([]column, error) {
	s.colsMu.Lock()
	defer s.colsMu.Unlock()
	if s.appCols != nil {
		return s.appCols, nil
	}
	cols, err := s.d.readColumns(ctx, s.db, s.tables.Application)
	if err != nil {
		return nil, fmt.Errorf("read columns of %s in %s: %w", s.tables.Application, s.display, s.fail(err))
	}
	if len(cols) == 0 {
		return nil, missingTable(s.display, "application", s.tables.Application)
	}
	s.appCols = cols
	return cols, nil
}

// ApplicationColumns reports the columns and their declared lengths.
func (s *Store) ApplicationColumns(ctx context.Context) (store.ApplicationColumns, error) {
	cols, err := s.applicationColumns(ctx)
	if err != nil {
		return nil, err
	}
	m := store.ApplicationColumns{}
	for _, c := range cols {
		m[c.Name] = c.MaxLen
	}
	return m, nil
}

// UserExists reports whether the user table has that id.
func (s *Store) UserExists(ctx context.Context, p store.UserExistsParams) (bool, error) {
	id := p.ID
	var n int
	if err := s.db.GetContext(ctx, &n, s.db.Rebind(`SELECT count(*) FROM `+s.q(roleUser)+` WHERE id = ?`), id); err != nil {
		return false, fmt.Errorf("look up user %d in %s of %s: %w", id, s.tables.User, s.display, s.fail(err))
	}
	return n > 0, nil
}

// GetApplication returns one application by client_id, or nil.
func (s *Store) GetApplication(ctx context.Context, p store.GetApplicationParams) (*store.Application, error) {
	clientID := p.ClientID
	var row struct {
		ID                     int64         `db:"id"`
		ClientID               string        `db:"client_id"`
		UserID                 sql.NullInt64 `db:"user_id"`
		RedirectURIs           string        `db:"redirect_uris"`
		PostLogoutRedirectURIs string        `db:"post_logout_redirect_uris"`
		ClientType             string        `db:"client_type"`
		AuthorizationGrantType string        `db:"authorization_grant_type"`
		ClientSecret           string        `db:"client_secret"`
		HashClientSecret       bool          `db:"hash_client_secret"`
		Name                   string        `db:"name"`
		SkipAuthorization      bool          `db:"skip_authorization"`
		Algorithm              string        `db:"algorithm"`
		AllowedOrigins         string        `db:"allowed_origins"`
	}
	// Older DOT tables lack some columns (hash_client_secret came with DOT
	// 2.0: before, secrets were stored in clear); read those as their
	// model defaults.
	cols, err := s.ApplicationColumns(ctx)
	if err != nil {
		return nil, err
	}
	selects := []string{"id", "client_id", "user_id", "redirect_uris", "client_type", "authorization_grant_type", "client_secret", "name", "skip_authorization"}
	for _, opt := range []struct{ name, absent string }{
		{"post_logout_redirect_uris", "''"}, {"hash_client_secret", "FALSE"}, {"algorithm", "''"}, {"allowed_origins", "''"},
	} {
		if cols.Has(opt.name) {
			selects = append(selects, opt.name)
		} else {
			selects = append(selects, opt.absent+" AS "+opt.name)
		}
	}
	q := s.db.Rebind(`SELECT ` + strings.Join(selects, ", ") + ` FROM ` + s.q(roleApplication) + ` WHERE client_id = ?`)
	if err := s.db.GetContext(ctx, &row, q, clientID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("read application from %s of %s: %w", s.tables.Application, s.display, s.fail(err))
	}
	a := &store.Application{
		ID: row.ID, ClientID: row.ClientID, RedirectURIs: row.RedirectURIs, PostLogoutRedirectURIs: row.PostLogoutRedirectURIs,
		ClientType: row.ClientType, AuthorizationGrantType: row.AuthorizationGrantType, ClientSecret: row.ClientSecret,
		HashClientSecret: row.HashClientSecret, Name: row.Name, SkipAuthorization: row.SkipAuthorization,
		Algorithm: row.Algorithm, AllowedOrigins: row.AllowedOrigins,
	}
	if row.UserID.Valid {
		v := row.UserID.Int64
		a.UserID = &v
	}
	return a, nil
}

// InsertApplication writes one application row. DOT's model defaults are
// not database defaults, so every NOT NULL column of the table in hand is
// supplied: the 3.0 columns always, 3.4's registration_source (model
// default "manual") and DOT main's client_jwks, client_jwks_uri and
// token_endpoint_auth_method (model default "") when the table has them.
// A nullable column gets its model default too (NULL for all of them), so
// the row is the one DOT's createapplication writes.
func (s *Store) InsertApplication(ctx context.Context, p store.InsertApplicationParams) (int64, error) {
	cols, err := s.applicationColumns(ctx)
	if err != nil {
		return 0, err
	}
	a := p.Application
	var userID any
	if a.UserID != nil {
		userID = *a.UserID
	}
	values := map[string]any{
		"client_id": a.ClientID, "user_id": userID, "redirect_uris": a.RedirectURIs,
		"post_logout_redirect_uris": a.PostLogoutRedirectURIs, "client_type": a.ClientType,
		"authorization_grant_type": a.AuthorizationGrantType, "client_secret": a.ClientSecret,
		"hash_client_secret": a.HashClientSecret, "name": a.Name, "skip_authorization": a.SkipAuthorization,
		"algorithm": a.Algorithm, "allowed_origins": a.AllowedOrigins,
		"created": s.d.timeArg(orNow(a.Created)), "updated": s.d.timeArg(orNow(a.Updated)),
		"registration_source": "manual", "cimd_expires_at": nil,
		// DOT main's (after 3.4.1) client-assertion and PAR columns.
		"client_jwks": "", "client_jwks_uri": "", "token_endpoint_auth_method": "",
		"require_pushed_authorization_requests": nil,
	}
	var names, marks []string
	var args []any
	for _, c := range cols {
		if c.Name == "id" {
			continue
		}
		v, known := values[c.Name]
		if !known {
			if c.NotNull {
				return 0, fmt.Errorf("insert into %s of %s: column %q is NOT NULL and unknown to oauthkit (a newer DOT layout?)", s.tables.Application, s.display, c.Name)
			}
			continue
		}
		names = append(names, s.d.quote(c.Name))
		marks = append(marks, "?")
		args = append(args, v)
	}
	q := `INSERT INTO ` + s.q(roleApplication) + ` (` + strings.Join(names, ", ") + `) VALUES (` + strings.Join(marks, ", ") + `)`
	id, err := s.d.insertReturningID(ctx, s.db, q, args)
	if err != nil {
		if s.d.isUniqueViolation(err) && strings.Contains(err.Error(), "client_id") {
			// Every database names the column, or the constraint named
			// after it, in its message; another unique index (one a site
			// added) is reported as itself below.
			return 0, fmt.Errorf("insert into %s of %s: client_id %q: %w", s.tables.Application, s.display, a.ClientID, store.ErrDuplicateClientID)
		}
		// The error text of a driver may echo values; the secret is one of
		// them, so say what failed without the driver's detail.
		return 0, fmt.Errorf("insert into %s of %s: %w", s.tables.Application, s.display, s.redact(classify(s.d, err)))
	}
	return id, nil
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// insertReturning runs an INSERT … RETURNING id (PostgreSQL, SQLite).
func insertReturning(ctx context.Context, db *sqlx.DB, query string, args []any) (int64, error) {
	var id int64
	err := db.QueryRowxContext(ctx, db.Rebind(query+" RETURNING id"), args...).Scan(&id)
	return id, err
}
