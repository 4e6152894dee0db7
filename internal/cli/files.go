package cli

import (
	"fmt"
	"io"
	"os"
)

// MaxInputFile is the most a file given to a command (a secret, a key)
// may hold: far above any real one, and a bound on what a mistaken path
// (/dev/zero, a log) can make the command read.
const MaxInputFile = 64 << 10

// ReadInputFile reads a small file named by flag (path "-": stdin), at
// most MaxInputFile bytes; a larger one is a usage error, read no further.
func ReadInputFile(flag, path string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, UsageError{Err: fmt.Errorf("%s: %w", flag, err)}
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxInputFile+1))
	if err != nil {
		return nil, UsageError{Err: fmt.Errorf("%s %s: %w", flag, path, err)}
	}
	if len(b) > MaxInputFile {
		return nil, Usagef("%s %s holds more than %d KiB: not a secret or key file", flag, path, MaxInputFile>>10)
	}
	return b, nil
}
