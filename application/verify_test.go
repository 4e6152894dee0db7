package application_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/application"
	"github.com/oauthkit/oauthkit/application/hasher"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// The verifier hands back the application it checked, and its time does
// not tell an unknown client from one whose secret is stored in clear or
// under a cheap hash: each takes at least one check at Django's default
// work factor. (A lower bound: the padding guarantees it, whatever the
// machine's load.)
func TestVerifyClientSecretTiming(t *testing.T) {
	ctx := context.Background()
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	_, err := application.CreateApplication(ctx, application.Spec{Store: e.Store, ClientType: "confidential", GrantType: "client-credentials",
		ClientID: "clear", ClientSecret: "clear-secret", NoHashClientSecret: true})
	require.NoError(t, err)
	cheap, err := hasher.MakePBKDF2SHA256("cheap-secret", 1000)
	require.NoError(t, err)
	_, err = application.CreateApplication(ctx, application.Spec{Store: e.Store, ClientType: "public", GrantType: "authorization-code",
		RedirectURIs: "https://app.example/cb", ClientID: "cheap", ClientSecret: cheap})
	require.NoError(t, err)

	// The floor is one verification at Django's default work factor, as
	// the verifier measured it; the padding makes it a hard lower bound.
	floor := application.DecoyCost()
	require.Positive(t, floor)

	for _, c := range []struct {
		id, secret string
		known, ok  bool
	}{
		{"nobody", "whatever", false, false},
		{"clear", "clear-secret", true, true},
		{"clear", "wrong", true, false},
		{"cheap", "cheap-secret", true, true},
		{"cheap", "wrong", true, false},
	} {
		start := time.Now()
		app, ok, err := application.VerifyClientSecret(ctx, e.Store, c.id, c.secret)
		took := time.Since(start)
		require.NoError(t, err)
		assert.Equal(t, c.ok, ok, c.id)
		assert.Equal(t, c.known, app != nil, c.id)
		if app != nil {
			assert.Equal(t, c.id, app.ClientID)
		}
		assert.GreaterOrEqual(t, took, floor, "%s/%s took %s, less than one default verification (%s)", c.id, c.secret, took, floor)
	}
	app, ok, err := application.VerifyClientSecret(ctx, e.Store, "cheap", "cheap-secret")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "public", app.ClientType, "the caller sees the client type")
	assert.Equal(t, "authorization-code", app.AuthorizationGrantType, "and the grant type")
}
