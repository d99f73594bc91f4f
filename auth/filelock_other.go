//go:build !unix

package auth

import "errors"

// lockFile is not implemented off Unix yet: FileStore's writes refuse
// rather than race.
func lockFile(string) (func(), error) {
	return nil, errors.New("FileStore needs flock, available on Unix only: use another SecretStore on this platform")
}
