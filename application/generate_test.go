package application

import (
	"testing"

	"github.com/oauthkit/oauthkit/application/hasher"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRandomString(t *testing.T) {
	counts := map[rune]int{}
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		s, err := hasher.RandomString(128)
		require.NoError(t, err)
		require.Len(t, s, 128)
		assert.False(t, seen[s])
		seen[s] = true
		for _, c := range s {
			counts[c]++
		}
	}
	assert.Len(t, counts, len(hasher.Alphabet), "every character of a-zA-Z0-9 appears, nothing else")
	for c, n := range counts {
		assert.Contains(t, hasher.Alphabet, string(c))
		// 25,600 draws over 62 characters: about 413 each; far outside
		// [250, 600] would mean a biased draw.
		assert.InDelta(t, 413, n, 163, "character %q", c)
	}
}
