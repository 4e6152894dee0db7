package cli_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/oauthkit/oauthkit/internal/cli"
)

func TestSignalContextCancelsOnFirstSignal(t *testing.T) {
	ctx, stop := cli.SignalContext()
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
}
