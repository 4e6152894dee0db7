package application

import (
	"context"
	"fmt"
	"sync"

	"github.com/oauthkit/oauthkit/application/hasher"
	"github.com/oauthkit/oauthkit/store"
)

// dummyHash is checked against when the client is unknown, so that an
// unknown client_id takes about as long as a wrong secret.
// It is made on first use, not at start-up: PBKDF2 at Django's work factor
// takes a noticeable fraction of a second.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hasher.EncodePBKDF2("pbkdf2_sha256", "oauthkit-dummy", "oauthkitdummysalt00000", hasher.DefaultIterations)
	return h
})

// CheckSecret compares a presented secret with what DOT stored: a Django
// password hash when hashed is true (hash_client_secret), else the secret
// itself. Both compare in constant time. An error means the stored hash
// could not be read; it never holds either secret.
func CheckSecret(stored string, hashed bool, presented string) (bool, error) {
	if !hashed {
		return hasher.Equal(stored, presented), nil
	}
	return hasher.Check(presented, stored)
}

// VerifyClientSecret tells whether presented is the secret of the
// application with clientID in a DOT database. An unknown client gives
// (false, nil) after the same work as a wrong secret.
func VerifyClientSecret(ctx context.Context, st store.Store, clientID, presented string) (bool, error) {
	app, err := st.GetApplication(ctx, clientID)
	if err != nil {
		return false, err
	}
	if app == nil {
		hasher.Check(presented, dummyHash()) //nolint:errcheck // timing only
		return false, nil
	}
	ok, err := CheckSecret(app.ClientSecret, app.HashClientSecret, presented)
	if err != nil {
		return false, fmt.Errorf("client %q: stored secret: %w", clientID, err)
	}
	return ok, nil
}
