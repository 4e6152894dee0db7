package application_test

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/application"
	"github.com/oauthkit/oauthkit/application/hasher"
	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

var alnum = regexp.MustCompile(`^[a-zA-Z0-9]+$`)

func fast(s application.Spec) application.Spec {
	s.Settings.HasherIterations = 1000
	return s
}

func count(t *testing.T, e *sqlstoretest.Env) int64 {
	return e.Int(t, `SELECT count(*) FROM oauth2_provider_application`)
}

type row struct {
	ClientID, ClientSecret, RedirectURIs, PostLogout, ClientType, Grant, Name, Algorithm, Origins string
	UserID                                                                                        *int64
	Hash, Skip                                                                                    bool
}

func readRow(t *testing.T, e *sqlstoretest.Env, clientID string) row {
	var r row
	require.NoError(t, e.DB.QueryRowx(e.DB.Rebind(`SELECT client_id, client_secret, redirect_uris, post_logout_redirect_uris, client_type,
authorization_grant_type, name, algorithm, allowed_origins, user_id, hash_client_secret, skip_authorization
FROM oauth2_provider_application WHERE client_id = ?`), clientID).Scan(&r.ClientID, &r.ClientSecret, &r.RedirectURIs, &r.PostLogout,
		&r.ClientType, &r.Grant, &r.Name, &r.Algorithm, &r.Origins, &r.UserID, &r.Hash, &r.Skip))
	return r
}

func TestCreateWithDefaults(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		ctx := context.Background()
		before := time.Now().Add(-time.Second)
		c, err := application.CreateApplication(ctx, fast(application.Spec{Store: e.Store, ClientType: "confidential", GrantType: "client-credentials"}))
		require.NoError(t, err)
		assert.Len(t, c.ClientID, 40)
		assert.Regexp(t, alnum, c.ClientID)
		assert.Len(t, c.ClientSecret, 128)
		assert.Regexp(t, alnum, c.ClientSecret)
		assert.Equal(t, c.ClientID, c.DisplayName())

		r := readRow(t, e, c.ClientID)
		assert.Nil(t, r.UserID)
		assert.Equal(t, row{ClientID: c.ClientID, ClientSecret: r.ClientSecret, ClientType: "confidential", Grant: "client-credentials", Hash: true}, r,
			"name, URIs, algorithm, allowed_origins empty; skip_authorization false; hash_client_secret true")
		assert.Regexp(t, `^pbkdf2_sha256\$1000\$[a-zA-Z0-9]{22}\$`, r.ClientSecret)
		ok, err := hasher.Check(c.ClientSecret, r.ClientSecret)
		require.NoError(t, err)
		assert.True(t, ok)

		var created, updated time.Time
		if e.Dialect == "sqlite" {
			var cs, us string
			// || '' reads the stored text, not the driver's parsed time.
			require.NoError(t, e.DB.QueryRowx(`SELECT created || '', updated || '' FROM oauth2_provider_application`).Scan(&cs, &us))
			assert.Regexp(t, `^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$`, cs, "Django's text form")
			created, _ = time.Parse("2006-01-02 15:04:05.999999", cs)
			updated, _ = time.Parse("2006-01-02 15:04:05.999999", us)
		} else {
			require.NoError(t, e.DB.QueryRowx(`SELECT created, updated FROM oauth2_provider_application`).Scan(&created, &updated))
		}
		assert.True(t, created.After(before) && created.Before(time.Now().Add(time.Second)), "created %v", created)
		assert.Equal(t, created, updated)
		if e.Layout.AtLeast(sqlstoretest.DOT341) {
			assert.EqualValues(t, 1, e.Int(t, `SELECT count(*) FROM oauth2_provider_application WHERE registration_source = 'manual' AND cimd_expires_at IS NULL`))
		}
		if e.Layout.AtLeast(sqlstoretest.DOTMain) {
			// DOT main's model defaults: '' for the client-assertion
			// columns, NULL (defer to the server-wide setting) for PAR.
			assert.EqualValues(t, 1, e.Int(t, `SELECT count(*) FROM oauth2_provider_application WHERE client_jwks = '' AND client_jwks_uri = ''
AND token_endpoint_auth_method = '' AND require_pushed_authorization_requests IS NULL`))
		}

		_, ok, err = application.VerifyClientSecret(ctx, e.Store, c.ClientID, c.ClientSecret)
		require.NoError(t, err)
		assert.True(t, ok)
		_, ok, err = application.VerifyClientSecret(ctx, e.Store, c.ClientID, c.ClientSecret[:127])
		require.NoError(t, err)
		assert.False(t, ok)
		_, ok, err = application.VerifyClientSecret(ctx, e.Store, "nobody", c.ClientSecret)
		require.NoError(t, err)
		assert.False(t, ok)
	})
}

func TestCreateWithEverything(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		ctx := context.Background()
		user := e.User(t)
		c, err := application.CreateApplication(ctx, fast(application.Spec{
			Store: e.Store, ClientType: "public", GrantType: "authorization-code", ClientID: "my-client",
			User: strconv.FormatInt(user, 10), RedirectURIs: "https://app.example.com/cb http://127.0.0.1:8080/cb?x=1",
			PostLogoutRedirectURIs: "https://app.example.com/bye", ClientSecret: "given-secret", Name: "My App",
			SkipAuthorization: true, Algorithm: "RS256", Settings: application.Settings{OIDCRSAPrivateKey: "-----BEGIN PRIVATE KEY-----"},
		}))
		require.NoError(t, err)
		assert.Empty(t, c.ClientSecret, "a given secret is not echoed")
		assert.Equal(t, "My App", c.DisplayName())
		r := readRow(t, e, "my-client")
		require.NotNil(t, r.UserID)
		assert.Equal(t, user, *r.UserID)
		assert.Equal(t, "https://app.example.com/cb http://127.0.0.1:8080/cb?x=1", r.RedirectURIs)
		assert.Equal(t, "https://app.example.com/bye", r.PostLogout)
		assert.True(t, r.Skip)
		assert.Equal(t, "RS256", r.Algorithm)
		_, ok, err := application.VerifyClientSecret(ctx, e.Store, "my-client", "given-secret")
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

func TestSecretStorage(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		ctx := context.Background()
		// Unhashed, as HS256 needs.
		_, err := application.CreateApplication(ctx, fast(application.Spec{Store: e.Store, ClientType: "confidential", GrantType: "client-credentials",
			ClientID: "plain", ClientSecret: "plain-secret", NoHashClientSecret: true, Algorithm: "HS256"}))
		require.NoError(t, err)
		r := readRow(t, e, "plain")
		assert.Equal(t, "plain-secret", r.ClientSecret)
		assert.False(t, r.Hash)
		_, ok, err := application.VerifyClientSecret(ctx, e.Store, "plain", "plain-secret")
		require.NoError(t, err)
		assert.True(t, ok)
		// Already hashed: stored as is, as DOT does.
		pre, err := hasher.MakePBKDF2SHA256("pre-hashed", 1000)
		require.NoError(t, err)
		_, err = application.CreateApplication(ctx, fast(application.Spec{Store: e.Store, ClientType: "confidential", GrantType: "password", ClientID: "pre", ClientSecret: pre}))
		require.NoError(t, err)
		assert.Equal(t, pre, readRow(t, e, "pre").ClientSecret)
		_, ok, err = application.VerifyClientSecret(ctx, e.Store, "pre", "pre-hashed")
		require.NoError(t, err)
		assert.True(t, ok)
		// The work factor is settable.
		_, err = application.CreateApplication(ctx, application.Spec{Store: e.Store, ClientType: "confidential", GrantType: "password", ClientID: "iters",
			Settings: application.Settings{HasherIterations: 1234, ClientSecretLength: 50}})
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(readRow(t, e, "iters").ClientSecret, "pbkdf2_sha256$1234$"))
	})
}

func TestValidationRules(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name   string
		spec   application.Spec
		fields []string // in order
		msg    string   // in the first message
	}{
		{"client type", application.Spec{ClientType: "secret-agent", GrantType: "password"}, []string{"client_type"}, `"secret-agent" is not a client type`},
		{"client type missing", application.Spec{GrantType: "password"}, []string{"client_type"}, "is required"},
		{"grant type", application.Spec{ClientType: "public", GrantType: "magic"}, []string{"authorization_grant_type"}, `"magic" is not a grant type`},
		{"algorithm", application.Spec{ClientType: "public", GrantType: "password", Algorithm: "ES256"}, []string{"algorithm"}, `"ES256" is not an algorithm`},
		{"redirect required", application.Spec{ClientType: "public", GrantType: "authorization-code"}, []string{"redirect_uris"}, "required with grant type authorization-code"},
		{"redirect required implicit", application.Spec{ClientType: "public", GrantType: "implicit"}, []string{"redirect_uris"}, "required"},
		{"redirect required hybrid", application.Spec{ClientType: "public", GrantType: "openid-hybrid"}, []string{"redirect_uris"}, "required"},
		{"bad scheme", application.Spec{ClientType: "public", GrantType: "authorization-code", RedirectURIs: "ftp://example.com/cb"}, []string{"redirect_uris"}, `scheme "ftp" is not allowed`},
		{"fragment", application.Spec{ClientType: "public", GrantType: "authorization-code", RedirectURIs: "https://example.com/cb#frag"}, []string{"redirect_uris"}, "fragment"},
		{"no host", application.Spec{ClientType: "public", GrantType: "authorization-code", RedirectURIs: "https:///cb"}, []string{"redirect_uris"}, "needs a host"},
		{"bad host", application.Spec{ClientType: "public", GrantType: "authorization-code", RedirectURIs: "https://exa_mple.com/cb"}, []string{"redirect_uris"}, "not a valid host"},
		{"wildcard not allowed", application.Spec{ClientType: "public", GrantType: "authorization-code", RedirectURIs: "https://*.example.com/cb"}, []string{"redirect_uris"}, "ALLOW_URI_WILDCARDS"},
		{"credentials", application.Spec{ClientType: "public", GrantType: "authorization-code", RedirectURIs: "https://u:p@example.com/cb"}, []string{"redirect_uris"}, "credentials"},
		{"post logout validated", application.Spec{ClientType: "public", GrantType: "password", PostLogoutRedirectURIs: "javascript:alert(1)"}, []string{"post_logout_redirect_uris"}, "not allowed"},
		{"RS256 without key", application.Spec{ClientType: "confidential", GrantType: "password", Algorithm: "RS256"}, []string{"algorithm"}, "OIDC_RSA_PRIVATE_KEY"},
		{"HS256 public", application.Spec{ClientType: "public", GrantType: "password", Algorithm: "HS256", NoHashClientSecret: true}, []string{"algorithm"}, "public clients"},
		{"HS256 implicit", application.Spec{ClientType: "confidential", GrantType: "implicit", RedirectURIs: "https://a.example/cb", Algorithm: "HS256", NoHashClientSecret: true}, []string{"algorithm"}, "implicit"},
		{"HS256 hashed", application.Spec{ClientType: "confidential", GrantType: "password", Algorithm: "HS256"}, []string{"hash_client_secret"}, "HS256 needs the secret stored unhashed"},
		{"HS256 pre-hashed secret", application.Spec{ClientType: "confidential", GrantType: "password", Algorithm: "HS256", NoHashClientSecret: true, ClientSecret: "pbkdf2_sha256$1$a$b"}, []string{"client_secret"}, "already a password hash"},
		{"pre-hashed, costly argon2", application.Spec{ClientType: "confidential", GrantType: "password", ClientSecret: "argon2$argon2id$v=19$m=4294967295,t=2,p=8$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"}, []string{"client_secret"}, "out of range"},
		{"pre-hashed, costly scrypt", application.Spec{ClientType: "confidential", GrantType: "password", ClientSecret: "scrypt$1073741824$salt$8$1$aGFzaA=="}, []string{"client_secret"}, "out of range"},
		{"pre-hashed, malformed", application.Spec{ClientType: "confidential", GrantType: "password", ClientSecret: "pbkdf2_sha256$1junk$salt$aGFzaA=="}, []string{"client_secret"}, "cannot be verified"},
		{"user not integer", application.Spec{ClientType: "public", GrantType: "password", User: "admin"}, []string{"user"}, `"admin" is not a user id`},
		{"user missing", application.Spec{ClientType: "public", GrantType: "password", User: "4242"}, []string{"user"}, "no user with id 4242"},
		{"name too long", application.Spec{ClientType: "public", GrantType: "password", Name: long(256)}, []string{"name"}, "at most 255"},
		{"secret too long", application.Spec{ClientType: "public", GrantType: "password", ClientSecret: long(256)}, []string{"client_secret"}, "longer than"},
		{"client_id too long", application.Spec{ClientType: "public", GrantType: "password", ClientID: long(256)}, []string{"client_id"}, "the column holds at most"},
		{"several at once", application.Spec{ClientType: "nope", GrantType: "implicit", User: "x", Algorithm: "HS256", RedirectURIs: "gopher://x"},
			[]string{"user", "redirect_uris", "client_type", "algorithm", "hash_client_secret"}, `"x" is not a user id`},
	}
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		for _, tc := range cases {
			spec := fast(tc.spec)
			spec.Store = e.Store
			if tc.spec.ClientSecret == "" {
				spec.ClientSecret = "a-secret-that-must-not-leak"
			}
			_, err := application.CreateApplication(context.Background(), spec)
			require.Error(t, err, tc.name)
			assert.True(t, errors.Is(err, application.ErrValidation), tc.name)
			var ve *application.ValidationError
			require.True(t, errors.As(err, &ve), tc.name)
			var fields []string
			for _, fe := range ve.Errors {
				fields = append(fields, fe.Field)
			}
			assert.Equal(t, tc.fields, fields, "%s: %v", tc.name, ve.Errors)
			assert.Contains(t, ve.Errors[0].Message, tc.msg, tc.name)
			assert.NotContains(t, err.Error(), "a-secret-that-must-not-leak", tc.name)
		}
		assert.Zero(t, count(t, e), "nothing written")
	})
}

// The tables differ: DOT 3.0.1's client_id holds 100 characters and its
// grant type 32, too few for the device-code grant; 3.4.1's hold 255 and 44.
func TestColumnLengthsFollowTheLayout(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		ctx := context.Background()
		_, errID := application.CreateApplication(ctx, fast(application.Spec{Store: e.Store, ClientType: "public", GrantType: "password", ClientID: strings.Repeat("c", 101)}))
		_, errDevice := application.CreateApplication(ctx, fast(application.Spec{Store: e.Store, ClientType: "public", GrantType: application.GrantDeviceCode}))
		if e.Layout == sqlstoretest.DOT301 {
			assert.ErrorContains(t, errID, "client_id: is 101 characters long; the column holds at most 100")
			assert.ErrorContains(t, errDevice, "authorization_grant_type: is 44 characters long; the column holds at most 32")
			assert.Zero(t, count(t, e))
		} else {
			assert.NoError(t, errID)
			assert.NoError(t, errDevice)
			assert.EqualValues(t, 2, count(t, e))
		}
	})
}

func TestDuplicateClientID(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		ctx := context.Background()
		spec := fast(application.Spec{Store: e.Store, ClientType: "public", GrantType: "password", ClientID: "dup"})
		_, err := application.CreateApplication(ctx, spec)
		require.NoError(t, err)
		_, err = application.CreateApplication(ctx, spec)
		var ve *application.ValidationError
		require.True(t, errors.As(err, &ve), "%v", err)
		assert.Equal(t, "client_id", ve.Errors[len(ve.Errors)-1].Field)

		// Racing writers: exactly one wins, the others get the same
		// validation error, not a driver error.
		errs := testcmd.AtOnce(6, func(int) error {
			s := spec
			s.ClientID = "raced"
			_, err := application.CreateApplication(ctx, s)
			return err
		})
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else {
				assert.True(t, errors.Is(err, application.ErrValidation), "%v", err)
			}
		}
		assert.Equal(t, 1, wins)
		assert.EqualValues(t, 2, count(t, e))
	})
}

func TestIfNotExists(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		ctx := context.Background()
		spec := fast(application.Spec{Store: e.Store, ClientType: "confidential", GrantType: "password", ClientID: "svc", ClientSecret: "s3cret", Name: "Svc", IfNotExists: true})
		c, err := application.CreateApplication(ctx, spec)
		require.NoError(t, err)
		assert.False(t, c.Existed)
		c, err = application.CreateApplication(ctx, spec)
		require.NoError(t, err)
		assert.True(t, c.Existed)
		assert.Equal(t, "Svc", c.Name)
		// Without a secret to compare, the secret is not part of the comparison.
		noSecret := spec
		noSecret.ClientSecret = ""
		c, err = application.CreateApplication(ctx, noSecret)
		require.NoError(t, err)
		assert.True(t, c.Existed)
		assert.Empty(t, c.ClientSecret, "no secret is generated for an application that exists")

		other := spec
		other.Name, other.ClientSecret = "Other", "different"
		_, err = application.CreateApplication(ctx, other)
		assert.True(t, errors.Is(err, application.ErrExistsDifferent))
		assert.ErrorContains(t, err, "name, client_secret")
		assert.NotContains(t, err.Error(), "different\"")
		assert.EqualValues(t, 1, count(t, e))

		noID := spec
		noID.ClientID = ""
		_, err = application.CreateApplication(ctx, noID)
		assert.True(t, errors.Is(err, application.ErrInvalidSpec))
	})
}

func TestGeneratedValuesAreUnique(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT341)
	ids, secrets := map[string]bool{}, map[string]bool{}
	for i := 0; i < 20; i++ {
		c, err := application.CreateApplication(context.Background(), fast(application.Spec{Store: e.Store, ClientType: "public", GrantType: "password"}))
		require.NoError(t, err)
		assert.False(t, ids[c.ClientID] || secrets[c.ClientSecret])
		ids[c.ClientID], secrets[c.ClientSecret] = true, true
	}
}

// A NOT NULL column that no DOT layout has (a newer DOT, or a column a
// site added) is refused with a message naming it, and nothing is
// written: oauthkit cannot know the value it needs.
func TestUnknownNotNullColumnIsRefused(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		ddl := `ALTER TABLE oauth2_provider_application ADD COLUMN x_future varchar(10) NOT NULL`
		if e.Dialect == sqlstore.DialectSQLite {
			ddl += ` DEFAULT ''` // SQLite adds a NOT NULL column only with a default
		}
		e.Exec(t, ddl)
		// A store opened now reads the new layout.
		st, err := sqlstore.Open(context.Background(), e.URL)
		require.NoError(t, err)
		defer st.Close()
		_, err = application.CreateApplication(context.Background(), fast(application.Spec{Store: st, ClientType: "public", GrantType: "password"}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), `column "x_future" is NOT NULL and unknown to oauthkit`)
		assert.Zero(t, count(t, e))
	})
}

// Identical concurrent calls with IfNotExists all succeed: one creates,
// the others find its row (also those that lost the insert race) and
// report it as existing; one row.
func TestIfNotExistsRace(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		ctx := context.Background()
		spec := fast(application.Spec{Store: e.Store, ClientType: "confidential", GrantType: "client-credentials", ClientID: "dup3",
			ClientSecret: "fixedsecret", IfNotExists: true})
		results := testcmd.AtOnce(12, func(int) error {
			_, err := application.CreateApplication(ctx, spec)
			return err
		})
		for _, err := range results {
			assert.NoError(t, err)
		}
		assert.EqualValues(t, 1, count(t, e))
	})
}

// A unique index a site added on another column is reported as what it
// is, not as a taken client_id.
func TestOtherUniqueViolationIsNotClientID(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		e.Exec(t, `CREATE UNIQUE INDEX site_unique_name ON oauth2_provider_application (name)`)
		ctx := context.Background()
		spec := fast(application.Spec{Store: e.Store, ClientType: "public", GrantType: "password", Name: "Same"})
		_, err := application.CreateApplication(ctx, spec)
		require.NoError(t, err)
		_, err = application.CreateApplication(ctx, spec)
		require.Error(t, err)
		assert.False(t, errors.Is(err, store.ErrDuplicateClientID), "%v", err)
		assert.NotContains(t, err.Error(), "client_id")
		assert.EqualValues(t, 1, count(t, e))
	})
}
