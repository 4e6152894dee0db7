package application_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"

	"github.com/oauthkit/oauthkit/application"
	"github.com/oauthkit/oauthkit/application/hasher"
	"github.com/oauthkit/oauthkit/internal/testcmd"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// The verifier hands back the application it checked, and the classes of
// client (unknown, secret in clear, under a cheap PBKDF2, under Django's
// default) look alike in time with the machine busy: each does the work
// of one default check (work, not sleep), so load slows them all alike.
// Asserted: each class costs exactly that many PBKDF2 iterations; their
// times beside spinning goroutines are logged (timing a busy machine is
// no assertion that holds everywhere).
func TestVerifyClassesLookAlikeUnderLoad(t *testing.T) {
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
	_, err = application.CreateApplication(ctx, application.Spec{Store: e.Store, ClientType: "confidential", GrantType: "client-credentials",
		ClientID: "hashed", ClientSecret: "hashed-secret"}) // Django's default work factor
	require.NoError(t, err)

	// Background load, bounded: three spinning goroutines until the end.
	stop := make(chan struct{})
	defer close(stop)
	for i := 0; i < 3; i++ {
		go func() {
			deadline := time.Now().Add(2 * time.Minute)
			for x := 0; time.Now().Before(deadline); x++ {
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	classes := []struct {
		id, secret string
		known, ok  bool
	}{
		{"nobody", "whatever", false, false},
		{"clear", "wrong", true, false},
		{"cheap", "wrong", true, false},
		{"hashed", "wrong", true, false},
	}
	lo := make([]time.Duration, len(classes))
	hi := make([]time.Duration, len(classes))
	for round := 0; round < 2; round++ { // a check is about a second here
		for i, c := range classes {
			start := time.Now()
			app, ok, err := application.VerifyClientSecret(ctx, e.Store, c.id, c.secret)
			took := time.Since(start)
			require.NoError(t, err)
			assert.Equal(t, c.ok, ok, c.id)
			assert.Equal(t, c.known, app != nil, c.id)
			if round == 0 || took < lo[i] {
				lo[i] = took
			}
			hi[i] = max(hi[i], took)
		}
	}
	// Times are what a busy machine makes of them: logged, not asserted.
	// What is asserted is the work: every class costs exactly Django's
	// default PBKDF2 work, checks and decoys together.
	t.Logf("the classes' times beside three spinning goroutines: lows %v, highs %v (overlap: %v)", lo, hi, slices.Max(lo) <= slices.Min(hi))
	count, stopCounting := application.CountPBKDF2()
	defer stopCounting()
	for _, c := range classes {
		count.Store(0)
		_, _, err := application.VerifyClientSecret(ctx, e.Store, c.id, c.secret)
		require.NoError(t, err)
		assert.EqualValues(t, hasher.DefaultIterations, count.Load(), "%s: the same work as a check at Django's default", c.id)
	}

	app, ok, err := application.VerifyClientSecret(ctx, e.Store, "cheap", "cheap-secret")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "public", app.ClientType, "the caller sees the client type")
	assert.Equal(t, "authorization-code", app.AuthorizationGrantType, "and the grant type")
}

// Memory-hard checks share a budget: six at once of a 64 MiB argon2 hash
// under a 64 MiB budget hold about one hash's memory, not six; a hash
// needing more than the budget is refused without work.
func TestVerifierMemoryBudget(t *testing.T) {
	ctx := context.Background()
	e := sqlstoretest.New(t, sqlstore.DialectSQLite, sqlstoretest.DOT341)
	hash := argon2Hash(t, "s3cret", 64*1024, 1, 1)
	_, err := application.CreateApplication(ctx, application.Spec{Store: e.Store, ClientType: "confidential", GrantType: "client-credentials",
		ClientID: "argon", ClientSecret: hash})
	require.NoError(t, err)
	v := application.NewVerifier(e.Store, 64<<20)

	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var peak atomic.Uint64
	sampling := make(chan struct{})
	go func() {
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			select {
			case <-sampling:
				return
			case <-time.After(2 * time.Millisecond):
			}
			metrics.Read(sample)
			if b := sample[0].Value.Uint64(); b > peak.Load() {
				peak.Store(b)
			}
		}
	}()
	results := testcmd.AtOnce(6, func(int) bool {
		_, ok, err := v.Verify(ctx, "argon", "s3cret")
		require.NoError(t, err)
		return ok
	})
	close(sampling)
	for _, ok := range results {
		assert.True(t, ok)
	}
	assert.Less(t, peak.Load(), uint64(3*64<<20), "six checks at once held %d MiB", peak.Load()>>20)

	small := application.NewVerifier(e.Store, 32<<20)
	_, ok, err := small.Verify(ctx, "argon", "s3cret")
	assert.False(t, ok)
	assert.ErrorIs(t, err, hasher.ErrOutOfRange)
}

// argon2Hash is Django's argon2 encoding of password (argon2id).
func argon2Hash(t *testing.T, password string, mKiB, tt uint32, p uint8) string {
	t.Helper()
	salt := []byte("saltsaltsalt")
	key := argon2.IDKey([]byte(password), salt, tt, mKiB, p, 32)
	return fmt.Sprintf("argon2$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", mKiB, tt, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}
