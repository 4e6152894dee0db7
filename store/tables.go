package store

import (
	"fmt"
	"regexp"
	"strings"
)

// Tables names the tables oauthkit works on. DOT lets a deployment swap its
// models (OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL and friends), which changes the
// table names, so every one is configurable. A name may be qualified by one
// schema ("auth.oauth2_provider_grant").
type Tables struct {
	Application  string
	AccessToken  string
	RefreshToken string
	IDToken      string
	Grant        string
	// PushedAuthorizationRequest is DOT main's table of pushed
	// authorization requests (RFC 9126, OAUTH2_PROVIDER_PAR_REQUEST_MODEL).
	// No DOT release up to 3.4.1 has it: cleartokens cleans it only where
	// it exists.
	PushedAuthorizationRequest string
	User                       string
	// Migrations is Django's migration ledger, django_migrations.
	Migrations string
	// Lock is oauthkit's own lease table, used for the single-runner lock
	// where the server's own locks do not span the cluster (a MariaDB
	// Galera cluster). Only --create-schema (Store.Migrate) creates it.
	Lock string
}

// DefaultTables are DOT's and Django's default table names.
func DefaultTables() Tables {
	return Tables{
		Application:  "oauth2_provider_application",
		AccessToken:  "oauth2_provider_accesstoken",
		RefreshToken: "oauth2_provider_refreshtoken",
		IDToken:      "oauth2_provider_idtoken",
		Grant:        "oauth2_provider_grant",
		User:         "auth_user",
		Migrations:   "django_migrations",
		Lock:         "oauthkit_lock",

		PushedAuthorizationRequest: "oauth2_provider_pushedauthorizationrequest",
	}
}

// WithDefaults returns t with every empty name replaced by DOT's default.
func (t Tables) WithDefaults() Tables {
	def := DefaultTables()
	d := def.fields()
	for i, f := range t.fields() {
		if *f.name == "" {
			*f.name = *d[i].name
		}
	}
	return t
}

// field is one role's name in a Tables.
type field struct {
	role string
	name *string
}

// fields are t's names by role, in Named's order: the one list of roles.
func (t *Tables) fields() []field {
	return []field{
		{"application", &t.Application}, {"accesstoken", &t.AccessToken},
		{"refreshtoken", &t.RefreshToken}, {"idtoken", &t.IDToken},
		{"grant", &t.Grant}, {"user", &t.User}, {"migrations", &t.Migrations}, {"lock", &t.Lock},
		{RolePAR, &t.PushedAuthorizationRequest},
	}
}

// Named lists the tables with the setting name each comes from, in a stable order.
func (t Tables) Named() []NamedTable {
	var out []NamedTable
	for _, f := range t.fields() {
		out = append(out, NamedTable{f.role, *f.name})
	}
	return out
}

// RolePAR is the role of the pushed-authorization-request table in
// Named and Set ("par"; DOT's model name, pushedauthorizationrequest, is
// taken too).
const RolePAR = "par"

// Optional reports whether a role's table may be missing: Django's ledger
// (a database oauthkit created may lack it), the lease table (a Galera
// cluster's only) and the pushed-authorization-request table (DOT main's
// only).
func Optional(role string) bool {
	return role == "migrations" || role == "lock" || role == RolePAR
}

// NamedTable pairs a table role (e.g. "accesstoken") with its configured name.
type NamedTable struct {
	Role string
	Name string
}

// Set assigns the table of one role, as named by Named ("accesstoken",
// ...; DOT's model name pushedauthorizationrequest is taken for par).
func (t *Tables) Set(role, name string) error {
	if role == "pushedauthorizationrequest" {
		role = RolePAR
	}
	var roles []string
	for _, f := range t.fields() {
		if f.role == role {
			*f.name = name
			return nil
		}
		roles = append(roles, f.role)
	}
	return fmt.Errorf("unknown table role %q (want one of %s)", role, strings.Join(roles, ", "))
}

// identifier is deliberately narrower than what SQL allows when quoted:
// names that come from configuration must be plain, so that nothing a
// configuration file says can change the meaning of a statement.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// ValidateIdentifier checks a possibly schema-qualified table name.
func ValidateIdentifier(name string) error {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return fmt.Errorf("%q: at most one schema qualifier is allowed: %w", name, ErrInvalidIdentifier)
	}
	for _, p := range parts {
		if !identifier.MatchString(p) {
			return fmt.Errorf("%q: want letters, digits and underscores, starting with a letter or underscore, at most 63 characters: %w", name, ErrInvalidIdentifier)
		}
	}
	return nil
}

// Validate checks every table name.
func (t Tables) Validate() error {
	for _, n := range t.Named() {
		if err := ValidateIdentifier(n.Name); err != nil {
			return fmt.Errorf("%s table: %w", n.Role, err)
		}
	}
	return nil
}
