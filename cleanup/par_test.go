package cleanup_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// DOT main's last step: expired pushed authorization requests go, after
// the grants, in batches; a database of a DOT release has no such table
// and the step is skipped, saying why.
func TestPushedAuthorizationRequestStep(t *testing.T) {
	sqlstoretest.ForEach(t, func(t *testing.T, e *sqlstoretest.Env) {
		var live []int64
		if e.Layout.AtLeast(sqlstoretest.DOTMain) {
			e.InTx(t, func() {
				for i := 0; i < 7; i++ {
					e.PAR(t, T.Add(-time.Duration(i+1)*time.Second))
					live = append(live, e.PAR(t, T.Add(time.Duration(i)*time.Second))) // i == 0: exactly now
				}
			})
		}
		e.Grant(t, T.Add(-time.Hour))
		var order []string
		rep, err := cleanup.Clear(context.Background(), cleanup.Options{Store: e.Store, Now: T, BatchSize: 3,
			OnBatch: func(ev cleanup.BatchEvent) { order = append(order, ev.Step) }})
		require.NoError(t, err)
		last := rep.Steps[len(rep.Steps)-1]
		assert.Equal(t, cleanup.StepExpiredPAR, last.Name, "the last step")
		assert.Equal(t, "Expired pushed authorization requests deleted", last.Message)
		if !e.Layout.AtLeast(sqlstoretest.DOTMain) {
			assert.True(t, last.Skipped)
			assert.Contains(t, last.SkipReason, "no pushed authorization request table")
			assert.NotContains(t, order, cleanup.StepExpiredPAR)
			assert.EqualValues(t, 1, counts(rep)[cleanup.StepExpiredGrant], "the other steps ran")
			return
		}
		assert.False(t, last.Skipped)
		assert.EqualValues(t, 7, last.Deleted)
		assert.GreaterOrEqual(t, last.Batches, 3, "7 rows in batches of 3")
		assert.True(t, last.Complete)
		assert.Equal(t, "7 Expired pushed authorization requests deleted", last.Line())
		assert.Equal(t, live, e.IDs(t, "pushedauthorizationrequest"), "live ones and the one expiring exactly now stay")
		assert.Equal(t, cleanup.StepExpiredPAR, order[len(order)-1], "after the grants")
	})
}

// The PAR step takes the options every step takes: --only, a moved now,
// a dry run with the exact count, and the workers.
func TestPushedAuthorizationRequestOptions(t *testing.T) {
	for _, d := range sqlstoretest.Dialects {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			e := sqlstoretest.New(t, d, sqlstoretest.DOTMain)
			old := e.PAR(t, T.Add(-2*time.Hour))
			recent := e.PAR(t, T.Add(-30*time.Minute))
			live := e.PAR(t, T.Add(time.Minute))
			grant := e.Grant(t, T.Add(-time.Hour))
			run := func(o cleanup.Options) cleanup.Report {
				o.Store, o.Now = e.Store, T
				rep, err := cleanup.Clear(context.Background(), o)
				require.NoError(t, err)
				return rep
			}

			dry := run(cleanup.Options{DryRun: true, Only: []cleanup.Kind{cleanup.KindPAR}})
			assert.Equal(t, map[string]int64{cleanup.StepExpiredPAR: 2}, counts(dry))
			assert.Equal(t, []int64{old, recent, live}, e.IDs(t, "pushedauthorizationrequest"), "a dry run deletes nothing")

			rep := run(cleanup.Options{Only: []cleanup.Kind{cleanup.KindPAR}, KeepIfYounger: time.Hour, Workers: 2})
			assert.Equal(t, map[string]int64{cleanup.StepExpiredPAR: 1}, counts(rep))
			assert.Equal(t, []int64{recent, live}, e.IDs(t, "pushedauthorizationrequest"))
			assert.Equal(t, []int64{grant}, e.IDs(t, "grant"), "--only par leaves the grants")

			rep = run(cleanup.Options{Only: []cleanup.Kind{cleanup.KindGrant}})
			assert.Equal(t, map[string]int64{cleanup.StepExpiredGrant: 1}, counts(rep))
			assert.Equal(t, []int64{recent, live}, e.IDs(t, "pushedauthorizationrequest"), "--only grant leaves the PAR table")
		})
	}
	kinds, err := cleanup.ParseKinds("grant,par")
	require.NoError(t, err)
	assert.Equal(t, []cleanup.Kind{cleanup.KindGrant, cleanup.KindPAR}, kinds)
}
