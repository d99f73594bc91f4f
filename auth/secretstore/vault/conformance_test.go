package vault

import (
	"testing"

	"github.com/crmkit/crmkit/auth"
	"github.com/crmkit/crmkit/auth/secretstore/secretstoretest"
)

// The Vault store passes the conformance suite every auth.SecretStore
// runs, against the real dev server, each subtest with its own client.
func TestConformance(t *testing.T) {
	vaultServer(t)
	secretstoretest.Run(t, func(t *testing.T) auth.SecretStore {
		s, _ := newTestStore(t)
		return s
	})
}
