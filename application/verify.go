package application

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/oauthkit/oauthkit/application/hasher"
	"github.com/oauthkit/oauthkit/store"
)

// decoy is what an unknown client is checked against, so that it costs
// what a client with a secret hashed at Django's default work factor
// costs; cost is how long that took here, the floor every verification is
// padded to. Both are made on first use, not at start-up: PBKDF2 at
// Django's work factor takes a noticeable fraction of a second.
var decoy = sync.OnceValues(func() (hash string, cost time.Duration) {
	start := time.Now()
	hash, _ = hasher.EncodePBKDF2("pbkdf2_sha256", "oauthkit-decoy", "oauthkitdecoysalt00000", hasher.DefaultIterations)
	return hash, time.Since(start)
})

// CheckSecret compares a presented secret with what DOT stored: a Django
// password hash when hashed is true (hash_client_secret), else the secret
// itself. Both compare in constant time. An error means the stored hash
// could not be read (hasher.ErrMalformed, hasher.ErrOutOfRange: refused
// before any work); it never holds either secret.
func CheckSecret(stored string, hashed bool, presented string) (bool, error) {
	if !hashed {
		return hasher.Equal(stored, presented), nil
	}
	return hasher.Check(presented, stored)
}

// VerifyClientSecret checks presented against the secret of the
// application with clientID in a DOT database. It returns the application
// it checked (nil when there is none) and whether the secret matched, so
// the caller can decide the rest: whether the client is confidential (a
// public client has no secret to present), whether its grant type is the
// one asked for.
//
// Every call takes at least as long as checking a secret hashed at
// Django's default work factor (PBKDF2-SHA256, 1,000,000 iterations): an
// unknown client_id is checked against a decoy hash, and a secret stored
// in clear or under a cheaper hash is padded to that time. So the time
// does not tell whether a client exists, nor how its secret is stored,
// for every hash up to that cost. A hash that costs more (say argon2 at
// Django's defaults) takes its own, longer time, which does tell that the
// client exists; so do database errors.
func VerifyClientSecret(ctx context.Context, st store.Store, clientID, presented string) (*store.Application, bool, error) {
	start := time.Now()
	defer padTo(ctx, start)
	app, err := st.GetApplication(ctx, store.GetApplicationParams{ClientID: clientID})
	if err != nil {
		return nil, false, err
	}
	if app == nil {
		hash, _ := decoy()
		hasher.Check(presented, hash) //nolint:errcheck // timing only
		return nil, false, nil
	}
	ok, err := CheckSecret(app.ClientSecret, app.HashClientSecret, presented)
	if err != nil {
		return app, false, fmt.Errorf("client %q: stored secret: %w", clientID, err)
	}
	return app, ok, nil
}

// padTo sleeps until the decoy's cost has passed since start, unless ctx
// ends first.
func padTo(ctx context.Context, start time.Time) {
	_, cost := decoy()
	rest := cost - time.Since(start)
	if rest <= 0 {
		return
	}
	t := time.NewTimer(rest)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
