package application

import "sync/atomic"

// CountPBKDF2 counts the PBKDF2 iterations verifications cost from now
// on (checks and decoys); stop it with the returned function.
func CountPBKDF2() (count *atomic.Int64, stop func()) {
	count = new(atomic.Int64)
	pbkdf2Done = func(n int) {
		if n > 0 {
			count.Add(int64(n))
		}
	}
	return count, func() { pbkdf2Done = func(int) {} }
}
