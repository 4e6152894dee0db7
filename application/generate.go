package application

import "github.com/oauthkit/oauthkit/application/hasher"

// GenerateClientID makes a client_id as DOT's ClientIdGenerator does: 40
// characters of a-z A-Z 0-9 from a cryptographic source (hasher.Alphabet).
func GenerateClientID() (string, error) { return hasher.RandomString(ClientIDLength) }

// GenerateClientSecret makes a client secret as DOT's
// ClientSecretGenerator does: length characters (CLIENT_SECRET_GENERATOR_LENGTH,
// 0: 128) of a-z A-Z 0-9 from a cryptographic source.
func GenerateClientSecret(length int) (string, error) {
	if length == 0 {
		length = DefaultClientSecretLength
	}
	return hasher.RandomString(length)
}
