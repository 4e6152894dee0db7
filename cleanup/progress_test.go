package cleanup_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store"
)

// OnStart comes once, before any batch, with the rules, the warning and
// the planned steps; every batch says its step's number of those that
// run, DOT's wording and how far the walk is (from the store's position,
// counted from the first batch on); OnStep comes as each step ends.
func TestProgressEvents(t *testing.T) {
	var order []string
	f := &fakeStore{DeleteBatchFunc: func(_ context.Context, p store.DeleteBatchParams) (store.DeleteBatchResult, error) {
		order = append(order, "batch")
		if p.Target != store.GrantExpiredBefore {
			return store.DeleteBatchResult{Done: true}, nil
		}
		// A table of ids 1000..1100, walked 20 at a time.
		at := int64(1000)
		if p.After != "" {
			at = map[store.Cursor]int64{"1020": 1020, "1040": 1040, "1060": 1060, "1080": 1080}[p.After]
		}
		next := at + 20
		return store.DeleteBatchResult{Deleted: 5, Next: store.Cursor(itoa(next)), Done: next >= 1100, Walked: next, Total: 1100}, nil
	}}
	var started []cleanup.Report
	var events []cleanup.BatchEvent
	var ended []cleanup.StepReport
	_, err := fakeRun(t, f, cleanup.Options{
		Rules: cleanup.RulesDOT34, Only: []cleanup.Kind{cleanup.KindAccess, cleanup.KindGrant, cleanup.KindRefresh},
		OnStart: func(r cleanup.Report) { order = append(order, "start"); started = append(started, r) },
		OnBatch: func(ev cleanup.BatchEvent) { events = append(events, ev) },
		OnStep:  func(s cleanup.StepReport) { order = append(order, "step:"+s.Name); ended = append(ended, s) },
	})
	require.NoError(t, err)
	require.Len(t, started, 1)
	assert.Equal(t, "start", order[0], "before any batch")
	assert.Equal(t, cleanup.RulesDOT34, started[0].Rules)
	assert.Contains(t, started[0].Warnings, cleanup.WarnNoExpiry, "the warning before the work")
	toRun := 0
	for _, s := range started[0].Steps {
		if !s.Skipped {
			toRun++
		}
	}
	var grants []cleanup.BatchEvent
	for _, ev := range events {
		assert.Equal(t, toRun, ev.Steps)
		if ev.Step == cleanup.StepExpiredGrant {
			grants = append(grants, ev)
		}
	}
	require.Len(t, grants, 5)
	assert.Equal(t, toRun, grants[0].StepNumber, "grants are the last step that runs")
	assert.Equal(t, "Expired grant tokens deleted", grants[0].Message)
	assert.Zero(t, grants[0].Fraction, "unknown after the first batch")
	assert.InDelta(t, 0.25, grants[1].Fraction, 1e-9)
	assert.InDelta(t, 0.75, grants[3].Fraction, 1e-9)
	assert.EqualValues(t, 1, grants[4].Fraction)
	require.Len(t, ended, toRun)
	assert.Equal(t, cleanup.StepExpiredGrant, ended[len(ended)-1].Name)
	assert.EqualValues(t, 25, ended[len(ended)-1].Deleted)
	assert.Equal(t, "step:"+cleanup.StepExpiredGrant, order[len(order)-1], "a step's end after its batches")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
