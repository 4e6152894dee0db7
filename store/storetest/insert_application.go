package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
)

// conformanceApp is an application as createapplication would write it.
func conformanceApp(clientID string) store.Application {
	created := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	return store.Application{ClientID: clientID, RedirectURIs: "https://a.example/cb", ClientType: "confidential",
		AuthorizationGrantType: "authorization-code", ClientSecret: "pbkdf2_sha256$1$salt$x", HashClientSecret: true,
		Name: "Conformance", Created: created, Updated: created}
}

// An application written by InsertApplication reads back the same, on
// every layout (each layout's NOT NULL columns filled with DOT's model
// defaults), and a second one with its client_id is refused.
func testInsertApplication(t *testing.T, e Harness) {
	ctx := context.Background()
	a := conformanceApp("conformance-app")
	id, err := e.Store().InsertApplication(ctx, store.InsertApplicationParams{Application: a})
	require.NoError(t, err)
	assert.Contains(t, e.IDs(t, Application), id)
	got, err := e.Store().GetApplication(ctx, store.GetApplicationParams{ClientID: "conformance-app"})
	require.NoError(t, err)
	require.NotNil(t, got)
	a.ID, got.Created, got.Updated, a.Created, a.Updated = id, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	assert.Equal(t, a, *got)
	_, err = e.Store().InsertApplication(ctx, store.InsertApplicationParams{Application: a})
	assert.ErrorIs(t, err, store.ErrDuplicateClientID)
	assert.NotContains(t, err.Error(), a.ClientSecret, "no value of the row in the error")
}
