package testcmd

import "sync"

// AtOnce calls f(0) … f(n-1) each on a goroutine of its own, all started
// before any is waited for, and returns their results in that order: the
// tests' way of racing n runs (of a binary or the library) against one
// another.
func AtOnce[T any](n int, f func(i int) T) []T {
	out := make([]T, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = f(i)
		}()
	}
	wg.Wait()
	return out
}
