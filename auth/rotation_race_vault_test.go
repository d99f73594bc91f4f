package auth_test

import (
	"context"
	"testing"

	"github.com/crmkit/crmkit/auth"
	"github.com/crmkit/crmkit/auth/secretstore/vault"
)

// The Vault dev server of scripts/vault.sh.
const (
	envVaultAddr  = "CRMKIT_TEST_VAULT_ADDR"
	envVaultToken = "CRMKIT_TEST_VAULT_TOKEN"
)

func init() {
	raceStores["vault"] = func(ctx context.Context, getenv func(string) string) (auth.SecretStore, func(), error) {
		c, err := vault.NewClient(getenv("CRMKIT_RACE_VAULT_ADDR"), getenv("CRMKIT_RACE_VAULT_TOKEN"), nil)
		if err != nil {
			return nil, nil, err
		}
		s, err := vault.New(c, "secret", vault.WithPrefix("crmkit-race"))
		if err != nil {
			return nil, nil, err
		}
		if err := s.Check(ctx); err != nil {
			return nil, nil, err
		}
		return s, func() {}, nil
	}
}

func TestRotationRaceVault(t *testing.T) {
	env := serverEnv(t, "scripts/vault.sh start, then source .tools/run/vault.env", envVaultAddr, envVaultToken)
	secret(env[1])
	runRotationRace(t, []string{raceStoreEnv + "=vault", "CRMKIT_RACE_VAULT_ADDR=" + env[0], "CRMKIT_RACE_VAULT_TOKEN=" + env[1]}, raceRounds(t))
}
