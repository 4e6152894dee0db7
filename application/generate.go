package application

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// alphabet is what DOT's generators draw from (Django's
// get_random_string default): a-z A-Z 0-9.
const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// GenerateClientID makes a client_id as DOT's ClientIdGenerator does: 40
// characters of a-z A-Z 0-9 from a cryptographic source.
func GenerateClientID() (string, error) { return randomString(ClientIDLength) }

// GenerateClientSecret makes a client secret as DOT's
// ClientSecretGenerator does: length characters (CLIENT_SECRET_GENERATOR_LENGTH,
// 0: 128) of a-z A-Z 0-9 from a cryptographic source.
func GenerateClientSecret(length int) (string, error) {
	if length == 0 {
		length = DefaultClientSecretLength
	}
	return randomString(length)
}

// randomString draws n characters uniformly from alphabet.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("random source: %w", err)
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b), nil
}
