package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// heartbeat keeps a held lock alive and notices when it is lost: every
// interval it runs beat, and the first error beat returns is the lock's
// Err from then on. Each lock kind embeds one and starts it once held.
type heartbeat struct {
	stop, done chan struct{}
	mu         sync.Mutex
	lost       error
	ended      atomic.Bool
}

// start runs beat every interval, each given at most timeout, until stop;
// beat returns nil while the lock holds, or why it is lost (which ends the
// heartbeat).
func (h *heartbeat) start(every, timeout time.Duration, beat func(ctx context.Context) error) {
	h.stop, h.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(h.done)
		t := time.NewTicker(max(every, 100*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			err := beat(ctx)
			cancel()
			if err != nil {
				h.mu.Lock()
				h.lost = err
				h.mu.Unlock()
				return
			}
		}
	}()
}

// end stops the heartbeat and waits for it, before the lock is released.
// It reports false when the lock was already released: Unlock then does
// nothing more, so that releasing twice is harmless.
func (h *heartbeat) end() bool {
	if h.ended.Swap(true) {
		return false
	}
	close(h.stop)
	<-h.done
	return true
}

// Err is nil while the lock holds, and says why once it was lost.
func (h *heartbeat) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lost
}
