package application

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/semaphore"

	"github.com/oauthkit/oauthkit/application/hasher"
	"github.com/oauthkit/oauthkit/store"
)

// DefaultVerifyMemory is the memory a Verifier lets its memory-hard
// checks (argon2, scrypt) hold at once: one check at hasher's largest
// argon2 memory (256 MiB), or several smaller ones (Django's argon2
// default is 100 MiB, its scrypt 16 MiB). Others wait their turn, so no
// number of requests makes the checks hold more than this.
const DefaultVerifyMemory = hasher.MaxArgon2MemoryKiB * 1024

// Verifier checks client secrets against a DOT database, bounding what
// the checks can cost together. Its zero value is not usable: NewVerifier.
type Verifier struct {
	store  store.Store
	memory *semaphore.Weighted
	budget int64
}

// NewVerifier is a Verifier on st whose memory-hard checks hold at most
// memory bytes at once (0: DefaultVerifyMemory). A stored hash that needs
// more than memory on its own is refused (hasher.ErrOutOfRange).
func NewVerifier(st store.Store, memory int64) *Verifier {
	if memory <= 0 {
		memory = DefaultVerifyMemory
	}
	return &Verifier{store: st, memory: semaphore.NewWeighted(memory), budget: memory}
}

// pbkdf2Done is told the PBKDF2 iterations each check and decoy costs:
// nothing in a build, a counter in the tests (export_test.go), which so
// see that every class of client costs the same work without timing it.
var pbkdf2Done = func(int) {}

// decoySalt salts the decoy work (any fixed 22 characters).
var decoySalt = "oauthkitdecoysalt00000"

// decoyWork derives a key from presented with PBKDF2-SHA256 for
// iterations rounds and throws it away: the work a hashed secret at that
// cost takes, done for a client whose check would otherwise be cheaper.
// Doing the work, not sleeping, keeps the classes alike under load: a
// busy CPU slows the decoy as it slows a real check.
func decoyWork(presented string, iterations int) {
	pbkdf2Done(iterations)
	if iterations > 0 {
		hasher.EncodePBKDF2("pbkdf2_sha256", presented, decoySalt, iterations) //nolint:errcheck // the work is the point
	}
}

// CheckSecret compares a presented secret with what DOT stored: a Django
// password hash when hashed is true (hash_client_secret), else the secret
// itself. Both compare in constant time. An error means the stored hash
// could not be read (hasher.ErrMalformed, hasher.ErrOutOfRange: refused
// before any work); it never holds either secret. It bounds nothing: a
// server checking secrets of clients it does not control uses a Verifier.
func CheckSecret(stored string, hashed bool, presented string) (bool, error) {
	if !hashed {
		return hasher.Equal(stored, presented), nil
	}
	return hasher.Check(presented, stored)
}

var defaultVerifiers sync.Map // store.Store → *Verifier

// VerifyClientSecret is Verify on a Verifier of st with the default
// memory budget, one per store, kept for the life of the process (a
// server that makes stores over and over makes its own Verifier instead).
func VerifyClientSecret(ctx context.Context, st store.Store, clientID, presented string) (*store.Application, bool, error) {
	v, _ := defaultVerifiers.LoadOrStore(st, NewVerifier(st, 0))
	return v.(*Verifier).Verify(ctx, clientID, presented)
}

// Verify checks presented against the secret of the application with
// clientID. It returns the application it checked (nil when there is
// none) and whether the secret matched, so the caller decides the rest:
// whether the client is confidential, whether its grant type is the one
// asked for.
//
// Every call does at least the work of checking a secret hashed at
// Django's default (PBKDF2-SHA256, 1,000,000 iterations): an unknown
// client_id and a secret stored in clear are checked against that much
// decoy work, a cheaper PBKDF2 hash is topped up to it. So time does not
// tell whether a client exists, nor whether its secret is in clear or
// under a cheap PBKDF2, however busy the machine. A costlier hash (argon2,
// scrypt, bcrypt, more iterations) takes its own time, which does tell the
// client exists.
//
// Memory-hard checks wait for their share of the memory budget (ctx ends
// the wait); so the worst one unauthenticated request can cause is one
// check of the costliest hash allowed (256 MiB, about a second of one
// core), and any number of them hold no more than the budget.
func (v *Verifier) Verify(ctx context.Context, clientID, presented string) (*store.Application, bool, error) {
	app, err := v.store.GetApplication(ctx, store.GetApplicationParams{ClientID: clientID})
	if err != nil {
		return nil, false, err
	}
	if app == nil {
		decoyWork(presented, hasher.DefaultIterations)
		return nil, false, nil
	}
	if !app.HashClientSecret {
		ok := hasher.Equal(app.ClientSecret, presented)
		decoyWork(presented, hasher.DefaultIterations)
		return app, ok, nil
	}
	cost, err := hasher.CostOf(app.ClientSecret)
	if err == nil && cost.Memory > v.budget {
		err = fmt.Errorf("needs %d MiB, more than the verifier's budget of %d MiB: %w", cost.Memory>>20, v.budget>>20, hasher.ErrOutOfRange)
	}
	if err != nil {
		decoyWork(presented, hasher.DefaultIterations) // a broken hash says no more than a wrong secret
		return app, false, fmt.Errorf("client %q: stored secret: %w", clientID, err)
	}
	if cost.Memory > 0 {
		if err := v.memory.Acquire(ctx, cost.Memory); err != nil {
			return app, false, fmt.Errorf("client %q: waiting to check the secret: %w", clientID, err)
		}
		defer v.memory.Release(cost.Memory)
	}
	ok, err := hasher.Check(presented, app.ClientSecret)
	if err != nil {
		return app, false, fmt.Errorf("client %q: stored secret: %w", clientID, err)
	}
	pbkdf2Done(cost.PBKDF2Iterations)
	if cost.PBKDF2Iterations > 0 {
		decoyWork(presented, hasher.DefaultIterations-cost.PBKDF2Iterations)
	}
	return app, ok, nil
}
