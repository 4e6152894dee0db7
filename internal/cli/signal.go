package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// SignalContext returns a context that the first SIGINT or SIGTERM
// cancels, so the work stops between batches; a second signal ends the
// process at once with ExitFailure (the server rolls the open transaction
// back). stop releases the signals.
func SignalContext() (ctx context.Context, stop func()) {
	ctx, stopNotify := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		stopNotify()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		select {
		case <-again:
			os.Exit(ExitFailure)
		case <-done:
			signal.Stop(again)
		}
	}()
	return ctx, func() { stopNotify(); close(done) }
}
