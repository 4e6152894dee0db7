package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
)

// GetApplication finds a row by its client_id among others, and gives nil
// (no error) for an unknown one.
func testGetApplication(t *testing.T, e Harness) {
	ctx := context.Background()
	seeded := e.Application(t, false, time.Time{})
	for _, cid := range []string{"conformance-a", "conformance-b"} {
		_, err := e.Store().InsertApplication(ctx, store.InsertApplicationParams{Application: conformanceApp(cid)})
		require.NoError(t, err)
	}
	got, err := e.Store().GetApplication(ctx, store.GetApplicationParams{ClientID: "conformance-b"})
	require.NoError(t, err)
	require.NotNil(t, got)
	assert.Equal(t, "conformance-b", got.ClientID)
	assert.NotEqual(t, seeded, got.ID)
	missing, err := e.Store().GetApplication(ctx, store.GetApplicationParams{ClientID: "no-such-app"})
	require.NoError(t, err)
	assert.Nil(t, missing)
}
