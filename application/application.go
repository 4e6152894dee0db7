// Package application registers OAuth client applications in a
// django-oauth-toolkit database exactly as DOT's `manage.py
// createapplication` does: DOT 3.4.1's validation, generated client_id and
// secret, the secret stored as a Django PBKDF2 hash that DOT accepts. It
// also verifies a presented client secret against what DOT stored.
package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/application/hasher"
	"github.com/oauthkit/oauthkit/store"
)

// Generated lengths, as DOT's generators.
const (
	ClientIDLength            = 40
	DefaultClientSecretLength = 128 // CLIENT_SECRET_GENERATOR_LENGTH
)

var (
	// ErrExistsDifferent: IfNotExists found an application with that
	// client_id whose settings differ from the spec.
	ErrExistsDifferent = errors.New("an application with that client_id exists with different settings")
	// ErrInvalidSpec: the spec cannot be acted on (no store, bad settings).
	ErrInvalidSpec = errors.New("invalid application spec")
)

// Settings are DOT's settings that shape validation and generation.
type Settings struct {
	// AllowedRedirectURISchemes is ALLOWED_REDIRECT_URI_SCHEMES; empty: http, https.
	AllowedRedirectURISchemes []string
	// AllowURIWildcards is ALLOW_URI_WILDCARDS.
	AllowURIWildcards bool
	// OIDCRSAPrivateKey is OIDC_RSA_PRIVATE_KEY; only whether it is set matters here.
	OIDCRSAPrivateKey string
	// ClientSecretLength is CLIENT_SECRET_GENERATOR_LENGTH; 0: 128.
	ClientSecretLength int
	// HasherIterations is the PBKDF2 work factor; 0: 1,000,000 (Django 5.2).
	HasherIterations int
}

func (s Settings) uriRules() URIRules {
	return URIRules{AllowedSchemes: s.AllowedRedirectURISchemes, AllowWildcards: s.AllowURIWildcards}
}

// Spec is what createapplication takes. An empty string means "not given",
// as in DOT's command.
type Spec struct {
	Store store.Store
	// ClientType is confidential or public.
	ClientType string
	// GrantType is the authorization_grant_type.
	GrantType string
	// ClientID; empty: 40 generated characters.
	ClientID string
	// User is the owner's auth_user id as given (it must be an integer
	// naming an existing row); empty: no owner.
	User string
	// RedirectURIs and PostLogoutRedirectURIs are space-separated lists.
	RedirectURIs           string
	PostLogoutRedirectURIs string
	// ClientSecret; empty: generated, and returned once in Created.
	ClientSecret string
	// NoHashClientSecret stores the secret as given (DOT's
	// (the command's --no-hash-client-secret); by default it is hashed.
	NoHashClientSecret bool
	Name               string
	SkipAuthorization  bool
	// Algorithm is "", RS256 or HS256.
	Algorithm string
	// IfNotExists: when an application with ClientID exists with the same
	// settings, return it (Created.Existed) instead of failing; when its
	// settings differ, fail with ErrExistsDifferent. Needs ClientID.
	IfNotExists bool
	Settings    Settings
	// Now is the created/updated time; zero: time.Now().
	Now time.Time
	// Logger gets debug records (never a secret); nil: none.
	Logger *slog.Logger
}

// Created describes the new (or, with IfNotExists, existing) application.
type Created struct {
	ID       int64  `json:"id"`
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
	// ClientSecret is set only when the secret was generated: it is shown
	// once and stored only as a hash.
	ClientSecret string `json:"client_secret,omitempty"`
	// Existed is true when IfNotExists found the same application.
	Existed bool `json:"existed"`
	// StoredInClear is true when the secret was stored as given although
	// hashing was asked for, because the table predates DOT 2.0 (no
	// hash_client_secret column) and that DOT compares secrets in clear.
	StoredInClear bool `json:"stored_in_clear"`
	// Warnings are things worth telling the user that did not stop the
	// creation (redirect URIs separated by commas, say).
	Warnings []string `json:"warnings"`
}

// DisplayName is DOT's name for the application in its success line: the
// name when one was given, else the client_id.
func (c Created) DisplayName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.ClientID
}

// Validate reports what makes the spec impossible to act on whatever the
// database holds (ErrInvalidSpec): settings out of range, or IfNotExists
// without a ClientID. It does not look at Store, so a command can check a
// spec before it connects. The application's own rules are checked by
// CreateApplication (ErrValidation), which needs the database.
func (spec Spec) Validate() error {
	if spec.Settings.ClientSecretLength < 0 {
		return fmt.Errorf("client secret length %d: must not be negative: %w", spec.Settings.ClientSecretLength, ErrInvalidSpec)
	}
	if n := spec.Settings.HasherIterations; n < 0 || n > hasher.MaxPBKDF2Iterations {
		return fmt.Errorf("hasher iterations %d: want 1 to %d (0: Django's default): %w", n, hasher.MaxPBKDF2Iterations, ErrInvalidSpec)
	}
	if spec.IfNotExists && spec.ClientID == "" {
		return fmt.Errorf("if-not-exists needs a client_id to look for: %w", ErrInvalidSpec)
	}
	return nil
}

// draft is the application being built, before hashing.
type draft struct {
	Spec
	userID      *int64
	userErr     string
	secretGiven bool // ClientSecret came from the caller, not the generator
}

// CreateApplication validates spec as DOT 3.4.1 would and inserts the
// application. Validation errors come back together as one
// *ValidationError (errors.Is(err, ErrValidation)); nothing is written then.
func CreateApplication(ctx context.Context, spec Spec) (Created, error) {
	if spec.Store == nil {
		return Created{}, fmt.Errorf("Spec.Store is nil: %w", ErrInvalidSpec)
	}
	if err := spec.Validate(); err != nil {
		return Created{}, err
	}
	if err := spec.Store.CheckWritable(ctx); err != nil {
		return Created{}, err
	}
	d := draft{Spec: spec, secretGiven: spec.ClientSecret != ""}
	created := Created{Warnings: commaWarnings(spec)}
	var err error
	if d.ClientID == "" {
		if d.ClientID, err = GenerateClientID(); err != nil {
			return Created{}, err
		}
	}
	if d.ClientSecret == "" {
		if d.ClientSecret, err = GenerateClientSecret(spec.Settings.ClientSecretLength); err != nil {
			return Created{}, err
		}
		created.ClientSecret = d.ClientSecret
	}
	if err := d.checkUser(ctx); err != nil {
		return Created{}, err
	}
	columns, err := spec.Store.ApplicationColumns(ctx)
	if err != nil {
		return Created{}, err
	}
	if !columns.Has("hash_client_secret") && !d.NoHashClientSecret {
		// A table from before DOT 2.0: that DOT compares secrets in clear,
		// so a hash would lock the client out.
		d.NoHashClientSecret = true
		created.StoredInClear = true
		d.log("the application table has no hash_client_secret column (DOT < 2.0): storing the secret as given")
	}
	errs := validate(&d, columns, spec.Settings)

	existing, err := spec.Store.GetApplication(ctx, store.GetApplicationParams{ClientID: d.ClientID})
	if err != nil {
		return Created{}, err
	}
	if existing != nil {
		if spec.IfNotExists && len(errs) == 0 {
			return d.compare(existing)
		}
		errs = append(errs, FieldError{Field: "client_id", Message: fmt.Sprintf("an application with client_id %q already exists", d.ClientID)})
	}
	if len(errs) > 0 {
		return Created{}, &ValidationError{Errors: errs}
	}

	stored := d.ClientSecret
	if !d.NoHashClientSecret && !hasher.IsHashed(stored) {
		if stored, err = hasher.MakePBKDF2SHA256(stored, spec.Settings.HasherIterations); err != nil {
			return Created{}, err
		}
		d.log("hashed the client secret", "algorithm", "pbkdf2_sha256", "iterations", iterationsOrDefault(spec.Settings.HasherIterations))
	}
	now := spec.Now
	if now.IsZero() {
		now = time.Now()
	}
	id, err := insert(ctx, spec.Store, store.InsertApplicationParams{Application: store.Application{
		ClientID: d.ClientID, UserID: d.userID, RedirectURIs: d.RedirectURIs,
		PostLogoutRedirectURIs: d.PostLogoutRedirectURIs, ClientType: d.ClientType,
		AuthorizationGrantType: d.GrantType, ClientSecret: stored, HashClientSecret: !d.NoHashClientSecret,
		Name: d.Name, SkipAuthorization: d.SkipAuthorization, Algorithm: d.Algorithm,
		Created: now, Updated: now,
	}})
	if errors.Is(err, store.ErrDuplicateClientID) {
		// Another writer took the client_id between our check and insert.
		// With IfNotExists, the row it wrote is read and compared, as if it
		// had been there first (identical concurrent calls all succeed).
		if spec.IfNotExists {
			existing, rerr := spec.Store.GetApplication(ctx, store.GetApplicationParams{ClientID: d.ClientID})
			if rerr != nil {
				return Created{}, rerr
			}
			if existing != nil {
				return d.compare(existing)
			}
		}
		return Created{}, &ValidationError{Errors: []FieldError{{Field: "client_id", Message: fmt.Sprintf("an application with client_id %q already exists", d.ClientID)}}}
	}
	if err != nil {
		return Created{}, err
	}
	d.log("application created", "id", id, "client_id", d.ClientID)
	created.ID, created.ClientID, created.Name = id, d.ClientID, d.Name
	return created, nil
}

func iterationsOrDefault(n int) int {
	if n == 0 {
		return hasher.DefaultIterations
	}
	return n
}

func (d *draft) log(msg string, args ...any) {
	if d.Logger != nil {
		d.Logger.Debug(msg, args...)
	}
}

// checkUser reads User: an integer naming an existing auth_user row.
func (d *draft) checkUser(ctx context.Context) error {
	if d.User == "" {
		return nil
	}
	id, err := strconv.ParseInt(strings.TrimSpace(d.User), 10, 64)
	if err != nil {
		d.userErr = fmt.Sprintf("%q is not a user id (an integer)", d.User)
		return nil
	}
	ok, err := d.Store.UserExists(ctx, store.UserExistsParams{ID: id})
	if err != nil {
		return err
	}
	if !ok {
		d.userErr = fmt.Sprintf("no user with id %d exists", id)
		return nil
	}
	d.userID = &id
	return nil
}

// compare decides IfNotExists: the same settings give the existing
// application back; any difference is ErrExistsDifferent naming the fields.
func (d *draft) compare(e *store.Application) (Created, error) {
	var diff []string
	check := func(field string, same bool) {
		if !same {
			diff = append(diff, field)
		}
	}
	check("client_type", e.ClientType == d.ClientType)
	check("authorization_grant_type", e.AuthorizationGrantType == d.GrantType)
	check("redirect_uris", e.RedirectURIs == d.RedirectURIs)
	check("post_logout_redirect_uris", e.PostLogoutRedirectURIs == d.PostLogoutRedirectURIs)
	check("name", e.Name == d.Name)
	check("skip_authorization", e.SkipAuthorization == d.SkipAuthorization)
	check("algorithm", e.Algorithm == d.Algorithm)
	check("hash_client_secret", e.HashClientSecret == !d.NoHashClientSecret)
	check("user", (e.UserID == nil && d.userID == nil) || (e.UserID != nil && d.userID != nil && *e.UserID == *d.userID))
	if d.secretGiven {
		ok, err := CheckSecret(e.ClientSecret, e.HashClientSecret, d.Spec.ClientSecret)
		check("client_secret", err == nil && ok)
	}
	if len(diff) > 0 {
		return Created{}, fmt.Errorf("client_id %q: %w: %s", d.ClientID, ErrExistsDifferent, strings.Join(diff, ", "))
	}
	d.log("application already exists with the same settings", "client_id", d.ClientID)
	return Created{ID: e.ID, ClientID: e.ClientID, Name: e.Name, Existed: true, Warnings: commaWarnings(d.Spec)}, nil
}

// commaWarnings notices URI lists separated by commas: DOT separates them
// with spaces, so "https://a/cb,https://a/cb2" is one URI to DOT (and a
// valid one), which no redirect will ever match.
func commaWarnings(spec Spec) []string {
	warnings := []string{}
	for _, f := range []struct{ field, value string }{
		{"redirect_uris", spec.RedirectURIs}, {"post_logout_redirect_uris", spec.PostLogoutRedirectURIs},
	} {
		for _, uri := range strings.Fields(f.value) {
			parts := strings.Split(uri, ",")
			if len(parts) < 2 {
				continue
			}
			several := true
			for _, p := range parts {
				if scheme, _, ok := strings.Cut(p, ":"); !ok || !schemeRe.MatchString(strings.ToLower(scheme)) {
					several = false
				}
			}
			if several {
				warnings = append(warnings, fmt.Sprintf("%s: %q looks like several URIs separated by commas; DOT separates them with spaces: %q",
					f.field, uri, strings.Join(parts, " ")))
			}
		}
	}
	return warnings
}
