package cleanup_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// cimdMix seeds n expired CIMD applications, some idle, some with live
// tokens, some whose ID tokens hold other applications' live access
// tokens, deterministically from seed.
func cimdMix(t *testing.T, e *sqlstoretest.Env, n int, seed uint64, now time.Time) []int64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	var apps []int64
	e.InTx(t, func() {
		for i := 0; i < n; i++ {
			apps = append(apps, e.Application(t, true, past.Add(-time.Duration(i)*time.Minute)))
		}
		for _, app := range apps {
			a := e.ForApplication(t, app)
			switch rng.IntN(6) {
			case 0: // idle: expired tokens only
				at := a.AccessToken(t, past)
				a.RefreshToken(t, at, past)
			case 1:
				a.AccessToken(t, future)
			case 2:
				a.Grant(t, future)
			case 3: // an ID token that another application's live access token is bound to
				idt := a.IDToken(t, past)
				other := e.ForApplication(t, apps[rng.IntN(len(apps))])
				other.Link(t, "accesstoken", other.AccessToken(t, future), "id_token_id", idt)
			case 4:
				a.RefreshToken(t, a.AccessToken(t, past), time.Time{})
			}
		}
	})
	return apps
}

// A dry run reports exactly what a real run then deletes, batch size and
// cascades across batches included, and changes nothing.
func TestCIMDDryRunEqualsRun(t *testing.T) {
	for _, d := range sqlstoretest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := sqlstoretest.New(t, d, sqlstoretest.DOT341)
			now := time.Now()
			cimdMix(t, e, 120, 42, now)
			before := e.Snapshot(t)
			apps := e.IDs(t, "application")
			for _, batch := range []int{7, 50} {
				dry, err := cleanup.ClearCIMDApplications(context.Background(), cleanup.CIMDOptions{Store: e.Store, BatchSize: batch, Now: now, DryRun: true})
				require.NoError(t, err)
				assert.Equal(t, before, e.Snapshot(t), "a dry run changes nothing")
				assert.Equal(t, apps, e.IDs(t, "application"))
				assert.Contains(t, dry.Line(), "(dry run)")
				if batch == 50 {
					real, err := cleanup.ClearCIMDApplications(context.Background(), cleanup.CIMDOptions{Store: e.Store, BatchSize: batch, Now: now})
					require.NoError(t, err)
					assert.Equal(t, dry.Deleted, real.Deleted)
					assert.Equal(t, dry.AccessTokens, real.AccessTokens)
					assert.Equal(t, dry.Kept, real.Kept)
					assert.Equal(t, len(apps)-int(real.Deleted), len(e.IDs(t, "application")))
					assert.Equal(t, fmt.Sprintf("Deleted %d expired CIMD application(s)", real.Deleted), real.Line())
					assert.Greater(t, real.Deleted, int64(10))
					assert.Greater(t, real.Kept, int64(10))
					e.AssertNoDanglingKeys(t)
				}
			}
		})
	}
}

// A token minted for a candidate application while the cleaner runs is
// never deleted with it: either the cleaner saw it (and kept the
// application), or its insert failed because the application was gone.
func TestCIMDRaceWithMinting(t *testing.T) {
	for _, d := range sqlstoretest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := sqlstoretest.New(t, d, sqlstoretest.DOT341)
			now := time.Now()
			var apps []int64
			e.InTx(t, func() {
				for i := 0; i < 300; i++ {
					apps = append(apps, e.Application(t, true, now.Add(-time.Hour)))
				}
			})
			future := e.Time(now.Add(time.Hour))
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			var mu sync.Mutex
			minted := map[int64]int64{} // token id → application
			for w := 0; w < 3; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 9))
					for i := 0; ctx.Err() == nil; i++ {
						// Half the applications only: the others stay
						// prunable however fast the minters are.
						app := apps[rng.IntN(len(apps)/2)]
						tok := fmt.Sprintf("race-%d-%d", w, i)
						sum := sha256.Sum256([]byte(tok))
						tx, err := e.DB.Beginx()
						if err != nil {
							continue
						}
						var id int64
						err = tx.QueryRowx(e.DB.Rebind(`INSERT INTO oauth2_provider_accesstoken (token, token_checksum, expires, scope, application_id, created, updated, resource)
VALUES (?, ?, ?, 'read', ?, ?, ?, '[]') RETURNING id`), tok, hex.EncodeToString(sum[:]), future, app, future, future).Scan(&id)
						if err == nil {
							err = tx.Commit()
						} else {
							tx.Rollback() //nolint:errcheck
						}
						if err == nil {
							mu.Lock()
							minted[id] = app
							mu.Unlock()
						}
						time.Sleep(time.Millisecond)
					}
				}()
			}
			time.Sleep(50 * time.Millisecond)
			rep, err := cleanup.ClearCIMDApplications(context.Background(), cleanup.CIMDOptions{Store: e.Store, BatchSize: 10, Now: now})
			cancel()
			wg.Wait()
			require.NoError(t, err)
			left := map[int64]bool{}
			for _, id := range e.IDs(t, "accesstoken") {
				left[id] = true
			}
			appsLeft := map[int64]bool{}
			for _, id := range e.IDs(t, "application") {
				appsLeft[id] = true
			}
			for tok, app := range minted {
				assert.True(t, left[tok], "minted token %d was deleted", tok)
				assert.True(t, appsLeft[app], "the application %d of a minted token is gone", app)
			}
			e.AssertNoDanglingKeys(t)
			t.Logf("%s: %d tokens minted during the run, %d applications deleted, %d kept", d, len(minted), rep.Deleted, rep.Kept)
			assert.Positive(t, len(minted))
			assert.Positive(t, rep.Deleted)
		})
	}
}

func TestCIMDOptions(t *testing.T) {
	e := sqlstoretest.New(t, "sqlite", sqlstoretest.DOT301)
	_, err := cleanup.ClearCIMDApplications(context.Background(), cleanup.CIMDOptions{Store: e.Store, BatchSize: -1})
	assert.True(t, errors.Is(err, cleanup.ErrInvalidOptions))
	assert.True(t, errors.Is(err, cleanup.ErrBatchSize), "%v", err)
	assert.Contains(t, err.Error(), "CIMDOptions.BatchSize -1: must be a positive integer")
	_, err = cleanup.ClearCIMDApplications(context.Background(), cleanup.CIMDOptions{Store: e.Store})
	assert.True(t, errors.Is(err, store.ErrNoCIMD), "%v", err)
}
