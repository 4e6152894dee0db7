package cleanup

import (
	"context"
	"sync"
	"time"
)

// pacer holds a run to MaxRowsPerSecond: over its steps and all its
// workers together, the rows deleted by time t never run ahead of the
// rate by more than one batch. A batch that took longer than its rows'
// share of time owes nothing, and time spent idle is not saved up for a
// burst later.
type pacer struct {
	perRow time.Duration
	mu     sync.Mutex
	next   time.Time // when the next batch may start
}

// newPacer is nil (no limit) for a rate of 0.
func newPacer(rowsPerSecond int) *pacer {
	if rowsPerSecond <= 0 {
		return nil
	}
	return &pacer{perRow: time.Second / time.Duration(rowsPerSecond)}
}

// wait holds the caller until the next batch may start, or ctx ends.
func (p *pacer) wait(ctx context.Context) error {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	d := time.Until(p.next)
	p.mu.Unlock()
	if d <= 0 {
		return nil
	}
	return sleep(ctx, d)
}

// sleep pauses for d, or until ctx ends (then its error).
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// spent counts rows just deleted against the rate.
func (p *pacer) spent(rows int64) {
	if p == nil || rows <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); p.next.Before(now) {
		p.next = now
	}
	p.next = p.next.Add(time.Duration(rows) * p.perRow)
}

// batchMax is the most rows a batch may take: BatchSize, and under
// MaxRowsPerSecond no more than a tenth of a second's rows, so that the
// deleting is spread evenly (many small batches) rather than one large
// batch followed by a long pause.
func (o *Options) batchMax() int {
	if o.MaxRowsPerSecond > 0 {
		return min(o.BatchSize, max(1, o.MaxRowsPerSecond/10))
	}
	return o.BatchSize
}
