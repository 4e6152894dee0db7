package application

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/oauthkit/oauthkit/application/hasher"
)

// Client types, grant types and algorithms DOT 3.4.1 accepts.
const (
	ClientConfidential = "confidential"
	ClientPublic       = "public"

	GrantAuthorizationCode = "authorization-code"
	GrantImplicit          = "implicit"
	GrantPassword          = "password"
	GrantClientCredentials = "client-credentials"
	GrantOpenIDHybrid      = "openid-hybrid"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"

	AlgorithmNone  = ""
	AlgorithmRS256 = "RS256"
	AlgorithmHS256 = "HS256"
)

// ClientTypes and GrantTypes list the accepted values in DOT's order.
var (
	ClientTypes = []string{ClientConfidential, ClientPublic}
	GrantTypes  = []string{GrantAuthorizationCode, GrantDeviceCode, GrantImplicit, GrantPassword, GrantClientCredentials, GrantOpenIDHybrid}
	Algorithms  = []string{AlgorithmNone, AlgorithmRS256, AlgorithmHS256}
)

// ErrValidation is matched (errors.Is) by every *ValidationError.
var ErrValidation = errors.New("application is not valid")

// FieldError is one broken rule, named by the model field as DOT names it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// errHS256Hashed is the rule HS256 breaks with a hashed secret (Spec's
// NoHashClientSecret mends it; the command says --no-hash-client-secret).
const errHS256Hashed = "HS256 needs the secret stored unhashed (it is the signing key)"

// ValidationError holds every broken rule, in DOT's order: field errors in
// model field order, then the cross-field rules, then client_id uniqueness.
// Messages never hold the client secret.
type ValidationError struct {
	Errors []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.Field + ": " + fe.Message
	}
	return "invalid application: " + strings.Join(parts, "; ")
}

// Is lets errors.Is(err, ErrValidation) match.
func (e *ValidationError) Is(target error) bool { return target == ErrValidation }

type collector struct{ errs []FieldError }

func (c *collector) add(field, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// hostSchemes need a host, as Django's URLValidator demands for them.
var hostSchemes = map[string]bool{"http": true, "https": true, "ws": true, "wss": true, "ftp": true}

var (
	schemeRe = regexp.MustCompile(`^[a-z][a-z0-9.+-]*$`)
	labelRe  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// authorityless is DOT 3.4.1's form of a private-use scheme redirect.
	authorityless = regexp.MustCompile(`(?i)^[a-z][a-z0-9.+-]*:/[^/\s][^\s]*$`)
)

// URIRules are the settings redirect URIs are checked against.
type URIRules struct {
	// AllowedSchemes is ALLOWED_REDIRECT_URI_SCHEMES (default http, https).
	AllowedSchemes []string
	// AllowWildcards is ALLOW_URI_WILDCARDS: "*.example.com" hosts.
	AllowWildcards bool
}

// ValidateRedirectURI checks one URI as DOT's AllowedURIValidator does for
// redirect URIs: it parses, its scheme is allowed, it has a host when the
// scheme needs one, and it has no fragment; path and query are allowed;
// a wildcard host only when allowed, once, leading, below the second level.
// Beyond DOT, user:password@ is refused: a redirect URI has no business
// carrying credentials, and DOT's matcher never matches one anyway.
func ValidateRedirectURI(uri string, rules URIRules) error {
	if uri == "" {
		return errors.New("is empty")
	}
	if strings.ContainsAny(uri, " \t\r\n") || strings.ContainsFunc(uri, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errors.New("holds whitespace or control characters")
	}
	if strings.Contains(uri, "#") {
		return errors.New("has a fragment (#…), which RFC 6749 forbids in a redirect URI")
	}
	scheme, _, ok := strings.Cut(uri, ":")
	if !ok || scheme == "" {
		return errors.New("has no scheme")
	}
	scheme = strings.ToLower(scheme)
	if !schemeRe.MatchString(scheme) {
		return fmt.Errorf("scheme %q is not a valid URI scheme", scheme)
	}
	allowed := rules.AllowedSchemes
	if len(allowed) == 0 {
		allowed = []string{"http", "https"}
	}
	if !containsFold(allowed, scheme) {
		return fmt.Errorf("scheme %q is not allowed (ALLOWED_REDIRECT_URI_SCHEMES: %s)", scheme, strings.Join(allowed, " "))
	}
	u, err := url.Parse(uri)
	if err != nil {
		return errors.New("does not parse as a URI")
	}
	if u.User != nil {
		return errors.New("carries user credentials (user@ or user:password@)")
	}
	if u.Opaque != "" && hostSchemes[scheme] {
		return fmt.Errorf("a %s URI needs //host", scheme)
	}
	host := u.Hostname()
	if host == "" {
		if hostSchemes[scheme] {
			return fmt.Errorf("a %s URI needs a host", scheme)
		}
		// RFC 8252 7.1: a private-use scheme has no authority, so exactly
		// one slash follows the scheme ("com.example.app:/cb"); DOT 3.4.1
		// refuses "scheme:cb" and "scheme:///cb", which would not match
		// the redirect by exact string comparison.
		if !authorityless.MatchString(uri) {
			return fmt.Errorf("a URI without a host must read %s:/path (one slash)", scheme)
		}
		return nil
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q is not a port number", p)
		}
	}
	return validateHost(strings.ToLower(host), rules.AllowWildcards)
}

func validateHost(host string, wildcards bool) error {
	if strings.Contains(host, "*") {
		if !wildcards {
			return errors.New("has a wildcard host, which needs ALLOW_URI_WILDCARDS")
		}
		if strings.Count(host, "*") > 1 {
			return errors.New("only one wildcard is allowed in the host")
		}
		if !strings.HasPrefix(host, "*") {
			return errors.New("a wildcard must begin the host")
		}
		// DOT counts the labels of the host; a trailing dot (the root)
		// is not a label, so "*.com." is a wildcard over a top-level
		// domain and refused, where DOT would let it through.
		if strings.Count(strings.TrimSuffix(host, "."), ".") < 2 {
			return errors.New("a wildcard cannot stand in the top or second level domain")
		}
		host = strings.TrimPrefix(host, "*")
		if strings.HasPrefix(host, ".") {
			host = host[1:]
		} else {
			// As DOT: up to two hyphens may follow the wildcard (Netlify's
			// *--site.netlify.app); a label cannot begin with more.
			host = strings.TrimPrefix(strings.TrimPrefix(host, "-"), "-")
		}
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if !labelRe.MatchString(label) {
			return fmt.Errorf("host %q is not a valid host name", host)
		}
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// validate applies DOT 3.4.1's field and cross-field rules
// to an application about to be written. limits are the column lengths of
// the table in hand.
func validate(a *draft, limits map[string]int, s Settings) []FieldError {
	var c collector
	maxLen := func(field, value string) {
		if n := limits[field]; n > 0 && len([]rune(value)) > n {
			c.add(field, "is %d characters long; the column holds at most %d", len([]rune(value)), n)
		}
	}
	// Field rules, in model field order.
	maxLen("client_id", a.ClientID)
	if a.userErr != "" {
		c.add("user", "%s", a.userErr)
	}
	for _, uri := range strings.Fields(a.RedirectURIs) {
		if err := ValidateRedirectURI(uri, s.uriRules()); err != nil {
			c.add("redirect_uris", "%q %v", uri, err)
		}
	}
	for _, uri := range strings.Fields(a.PostLogoutRedirectURIs) {
		if err := ValidateRedirectURI(uri, s.uriRules()); err != nil {
			c.add("post_logout_redirect_uris", "%q %v", uri, err)
		}
	}
	if !slices.Contains(ClientTypes, a.ClientType) {
		if a.ClientType == "" {
			c.add("client_type", "is required; want one of: %s", strings.Join(ClientTypes, ", "))
		} else {
			c.add("client_type", "%q is not a client type; want one of: %s", a.ClientType, strings.Join(ClientTypes, ", "))
		}
	}
	if !slices.Contains(GrantTypes, a.GrantType) {
		if a.GrantType == "" {
			c.add("authorization_grant_type", "is required; want one of: %s", strings.Join(GrantTypes, ", "))
		} else {
			c.add("authorization_grant_type", "%q is not a grant type; want one of: %s", a.GrantType, strings.Join(GrantTypes, ", "))
		}
	} else {
		maxLen("authorization_grant_type", a.GrantType)
	}
	if n := limits["client_secret"]; n > 0 && len([]rune(a.ClientSecret)) > n {
		c.add("client_secret", "is longer than the column's %d characters", n)
	}
	maxLen("name", a.Name)
	if !slices.Contains(Algorithms, a.Algorithm) {
		c.add("algorithm", "%q is not an algorithm; want RS256, HS256 or none (empty)", a.Algorithm)
	}

	// Cross-field rules, as DOT's Application.clean().
	switch a.GrantType {
	case GrantAuthorizationCode, GrantImplicit, GrantOpenIDHybrid:
		if strings.TrimSpace(a.RedirectURIs) == "" {
			c.add("redirect_uris", "is required with grant type %s", a.GrantType)
		}
	}
	switch a.Algorithm {
	case AlgorithmRS256:
		if s.OIDCRSAPrivateKey == "" {
			c.add("algorithm", "RS256 needs OIDC_RSA_PRIVATE_KEY to be set")
		}
	case AlgorithmHS256:
		if a.ClientType == ClientPublic || a.GrantType == GrantImplicit || a.GrantType == GrantOpenIDHybrid {
			c.add("algorithm", "HS256 cannot be used by public clients or with the implicit and openid-hybrid grants")
		}
		if a.ClientSecret == "" {
			c.add("client_secret", "HS256 needs a client secret: it is the HMAC signing key")
		}
		if !a.NoHashClientSecret {
			c.add("hash_client_secret", errHS256Hashed)
		} else if hasher.IsHashed(a.ClientSecret) {
			c.add("client_secret", "HS256 needs the secret itself, and this one is already a password hash")
		}
	}
	// A secret that already is a Django hash is stored as it is (as DOT
	// does); every server that verifies it then pays the cost its
	// parameters ask for, so they must be within the verifier's bounds.
	if !a.NoHashClientSecret && a.secretGiven && hasher.IsHashed(a.ClientSecret) {
		if err := hasher.Validate(a.ClientSecret); err != nil {
			c.add("client_secret", "is already a password hash, but one that cannot be verified: %s", hashProblem(err))
		}
	}
	return c.errs
}

// hashProblem says what is wrong with a stored hash without quoting it.
func hashProblem(err error) string {
	switch {
	case errors.Is(err, hasher.ErrOutOfRange):
		return "its cost parameters are out of range (" + err.Error() + ")"
	default:
		return err.Error()
	}
}
