package hasher_test

import (
	"testing"

	"github.com/oauthkit/oauthkit/application/hasher"
)

// The cost of storing one secret at Django 5.2's work factor, which is
// most of createapplication's run time.
func BenchmarkMakePBKDF2SHA256Default(b *testing.B) {
	for b.Loop() {
		if _, err := hasher.MakePBKDF2SHA256("s3cret", 0); err != nil {
			b.Fatal(err)
		}
	}
}
