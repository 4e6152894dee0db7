package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ApplicationColumns tells the layouts apart, with the declared lengths
// createapplication checks: 3.0's client_id holds 100 characters and its
// grant type 32; 3.4's 255 and 44; DOT main adds its client-assertion
// columns (client_jwks_uri holds 500).
func testApplicationColumns(t *testing.T, e Harness) {
	cols, err := e.Store().ApplicationColumns(context.Background())
	require.NoError(t, err)
	for _, c := range []string{"client_id", "redirect_uris", "client_type", "authorization_grant_type", "client_secret", "name", "skip_authorization", "created", "updated", "algorithm"} {
		assert.True(t, cols.Has(c), c)
	}
	l := e.Layout()
	assert.Equal(t, l.AtLeast(DOT341), cols.Has("registration_source"))
	assert.Equal(t, l.AtLeast(DOT341), cols.Has("cimd_expires_at"))
	assert.Equal(t, l.AtLeast(DOTMain), cols.Has("client_jwks"))
	assert.Equal(t, l.AtLeast(DOTMain), cols.Has("require_pushed_authorization_requests"))
	if l.AtLeast(DOT341) {
		assert.Equal(t, 255, cols["client_id"])
		assert.Equal(t, 44, cols["authorization_grant_type"])
	} else {
		assert.Equal(t, 100, cols["client_id"])
		assert.Equal(t, 32, cols["authorization_grant_type"])
	}
	if l.AtLeast(DOTMain) {
		assert.Equal(t, 500, cols["client_jwks_uri"])
	}
	assert.Zero(t, cols["redirect_uris"], "a text column has no limit")
}
