package application_test

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/application"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// Everything logged at the highest verbosity while creating applications
// and verifying secrets, and every error returned, is free of secrets.
func TestNoSecretInLogsOrErrors(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		// Capture the default loggers too, in case anything writes there.
		prevSlog, prevLog := slog.Default(), log.Writer()
		slog.SetDefault(logger)
		log.SetOutput(&logs)
		defer func() { slog.SetDefault(prevSlog); log.SetOutput(prevLog) }()

		ctx := context.Background()
		var secrets, texts []string
		given := "given-Secret-4f9a2c"
		c1, err := application.CreateApplication(ctx, fast(application.Spec{Store: e.Store, Logger: logger,
			ClientType: "confidential", GrantType: "password", ClientID: "one", ClientSecret: given}))
		require.NoError(t, err)
		c2, err := application.CreateApplication(ctx, fast(application.Spec{Store: e.Store, Logger: logger,
			ClientType: "confidential", GrantType: "password", ClientID: "two"}))
		require.NoError(t, err)
		secrets = append(secrets, given, c2.ClientSecret)
		_ = c1

		// Failures that involve the secret: too long, HS256 rules, a taken
		// client_id, IfNotExists with a different secret.
		for _, s := range []application.Spec{
			{ClientType: "confidential", GrantType: "password", ClientSecret: strings.Repeat("L", 300) + "-long-secret"},
			{ClientType: "public", GrantType: "implicit", Algorithm: "HS256", ClientSecret: "hs256-Secret-771"},
			{ClientType: "confidential", GrantType: "password", ClientID: "one", ClientSecret: "dup-Secret-8812"},
			{ClientType: "confidential", GrantType: "password", ClientID: "one", ClientSecret: "other-Secret-9931", IfNotExists: true},
		} {
			s.Store, s.Logger = e.Store, logger
			_, err := application.CreateApplication(ctx, fast(s))
			require.Error(t, err)
			texts = append(texts, err.Error())
			secrets = append(secrets, s.ClientSecret)
		}
		for _, try := range []struct{ id, secret string }{{"one", given}, {"one", "wrong-Secret-1234"}, {"nobody", "ghost-Secret-5678"}, {"two", c2.ClientSecret}} {
			_, ok, err := application.VerifyClientSecret(ctx, e.Store, try.id, try.secret)
			require.NoError(t, err)
			assert.Equal(t, try.secret == given || try.secret == c2.ClientSecret, ok)
			secrets = append(secrets, try.secret)
		}
		// A stored hash that cannot be read: the error names the client, not the secret.
		e.Exec(t, `UPDATE oauth2_provider_application SET client_secret = 'pbkdf2_sha256$x$y$z' WHERE client_id = 'one'`)
		_, _, err = application.VerifyClientSecret(ctx, e.Store, "one", "presented-Secret-2468")
		require.Error(t, err)
		texts = append(texts, err.Error())
		secrets = append(secrets, "presented-Secret-2468")

		require.NotEmpty(t, logs.String(), "the library did log at debug level")
		all := logs.String() + strings.Join(texts, "\n")
		for _, s := range secrets {
			assert.NotContains(t, all, s)
		}
	})
}
