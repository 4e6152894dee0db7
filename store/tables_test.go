package store_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/oauthkit/oauthkit/store"
)

func TestValidateIdentifier(t *testing.T) {
	for _, ok := range []string{"oauth2_provider_grant", "_x", "auth.oauth2_provider_grant", "T1"} {
		assert.NoError(t, store.ValidateIdentifier(ok), ok)
	}
	for _, bad := range []string{"", "1abc", "a-b", `a"b`, "a b", "grant; DROP TABLE x", "a.b.c", ".a", "a.",
		"x123456789012345678901234567890123456789012345678901234567890123"} {
		err := store.ValidateIdentifier(bad)
		assert.True(t, errors.Is(err, store.ErrInvalidIdentifier), "%q: %v", bad, err)
	}
}

func TestTablesDefaultsAndSet(t *testing.T) {
	var tb store.Tables
	assert.NoError(t, tb.Set("accesstoken", "myapp_accesstoken"))
	assert.Error(t, tb.Set("token", "x"))
	tb = tb.WithDefaults()
	assert.Equal(t, "myapp_accesstoken", tb.AccessToken)
	assert.Equal(t, "oauth2_provider_refreshtoken", tb.RefreshToken)
	assert.NoError(t, tb.Validate())
	tb.Grant = "bad name"
	assert.ErrorContains(t, tb.Validate(), "grant table")
}
