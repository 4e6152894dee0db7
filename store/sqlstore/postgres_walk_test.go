package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
	"github.com/oauthkit/oauthkit/store/storetest"
)

// The rule suite again with each of PostgreSQL's two walks of the
// refresh-token rules that follow the access token's expiry forced: the
// suite's tables are too small for the choice to be made by estimates.
func TestConformancePostgresWalkOwnTable(t *testing.T) {
	sqlstoretest.PostgresURL(t)
	storetest.Run(t, sqlstoretest.Opener(sqlstore.DialectPostgres, sqlstore.WalkOwnTable()))
}

func TestConformancePostgresWalkDriven(t *testing.T) {
	sqlstoretest.PostgresURL(t)
	storetest.Run(t, sqlstoretest.Opener(sqlstore.DialectPostgres, sqlstore.WalkDriven()))
}

// PostgreSQL walks the expired-access refresh step over whichever table
// makes fewer index lookups, by the planner's estimates: the refresh
// tokens when most expired access tokens have none, the expired access
// tokens when they are few beside many refresh tokens. Either way, and
// in one range or in a worker's ranges, exactly the refresh tokens of
// expired access tokens go.
func TestPostgresChoosesWalkByEstimates(t *testing.T) {
	const many, few = 1200, 60
	for _, l := range sqlstoretest.Layouts {
		for _, c := range []struct {
			name string
			want string
			// expired access tokens without a refresh token, refresh tokens
			// of live access tokens, refresh tokens of expired ones
			lone, live, doomed int
		}{
			{"few refresh tokens", "own", many, 0, few},
			{"few expired access tokens", "driven", 0, many, few},
		} {
			for _, parts := range []int{1, 2} {
				t.Run(string(l)+"/"+c.name+"/"+map[int]string{1: "one range", 2: "ranges"}[parts], func(t *testing.T) {
					t.Parallel()
					ctx := context.Background()
					e := sqlstoretest.New(t, sqlstore.DialectPostgres, l)
					now := time.Now()
					past, future := now.Add(-time.Hour), now.Add(time.Hour)
					for range c.lone {
						e.AccessToken(t, past)
					}
					var kept, gone []int64
					for range c.live {
						kept = append(kept, e.RefreshToken(t, e.AccessToken(t, future), time.Time{}))
					}
					for range c.doomed {
						gone = append(gone, e.RefreshToken(t, e.AccessToken(t, past), time.Time{}))
					}
					e.Exec(t, `ANALYZE oauth2_provider_accesstoken`)
					e.Exec(t, `ANALYZE oauth2_provider_refreshtoken`)
					target := store.RefreshAccessExpiredBefore
					if l.AtLeast(sqlstoretest.DOT341) {
						target = store.RefreshLiveAccessExpiredAtOrBefore
					}
					ranges, err := e.Store.Partition(ctx, store.PartitionParams{Target: target, Cutoff: now, Parts: parts})
					require.NoError(t, err)
					var deleted int64
					for _, rg := range ranges {
						after := rg.From
						for {
							res, err := e.Store.DeleteBatch(ctx, store.DeleteBatchParams{Target: target, Cutoff: now, Max: 25, After: after, Until: rg.Until})
							require.NoError(t, err)
							assert.Equal(t, c.want, sqlstore.CursorWalk(res.Next), "the walk chosen")
							deleted += res.Deleted
							after = res.Next
							if res.Done {
								break
							}
						}
					}
					assert.Equal(t, int64(len(gone)), deleted)
					assert.ElementsMatch(t, kept, e.IDs(t, "refreshtoken"))
				})
			}
		}
	}
}
