package vault

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// The Vault dev server the tests use, as scripts/vault.sh start writes
// them to .tools/run/vault.env.
const (
	envAddr    = "CRMKIT_TEST_VAULT_ADDR"
	envToken   = "CRMKIT_TEST_VAULT_TOKEN"
	envRequire = "CRMKIT_REQUIRE_SERVERS"
	testMount  = "secret"
)

// vaultServer returns the test Vault's address and root token, skipping
// the test when there is none (failing it when CRMKIT_REQUIRE_SERVERS=1).
func vaultServer(t testing.TB) (addr, token string) {
	t.Helper()
	addr, token = os.Getenv(envAddr), os.Getenv(envToken)
	if addr == "" || token == "" {
		msg := "no Vault dev server: run `scripts/vault.sh start && source .tools/run/vault.env` to set " + envAddr + " and " + envToken
		if os.Getenv(envRequire) == "1" {
			t.Fatal(msg + " (" + envRequire + "=1 requires it)")
		}
		t.Skip(msg)
	}
	return addr, token
}

// rootClient is a Vault client with the dev server's root token, for
// setting up what a test needs (tokens, mounts) and looking behind the
// store's back.
func rootClient(t testing.TB) *vaultapi.Client {
	t.Helper()
	addr, token := vaultServer(t)
	c, err := NewClient(addr, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testPrefix returns a fresh key prefix for one test, so that tests (and
// repeated runs against one server) never see each other's keys, and
// deletes everything under it when the test ends.
func testPrefix(t testing.TB, c *vaultapi.Client) string {
	t.Helper()
	p := "crmkit-test/" + randomID()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		deleteTree(ctx, c, p)
	})
	return p
}

func deleteTree(ctx context.Context, c *vaultapi.Client, p string) {
	sec, err := c.Logical().ListWithContext(ctx, testMount+"/metadata/"+p)
	if err != nil || sec == nil {
		return
	}
	keys, _ := sec.Data["keys"].([]any)
	for _, k := range keys {
		name, _ := k.(string)
		if name == "" {
			continue
		}
		if name[len(name)-1] == '/' {
			deleteTree(ctx, c, p+"/"+name[:len(name)-1])
			continue
		}
		_ = c.KVv2(testMount).DeleteMetadata(ctx, p+"/"+name)
	}
}

// newTestStore returns a Store on the test Vault under a fresh prefix,
// with its own client (as a separate worker would have).
func newTestStore(t testing.TB) (*Store, *vaultapi.Client) {
	t.Helper()
	root := rootClient(t)
	addr, token := vaultServer(t)
	c, err := NewClient(addr, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(c, testMount, WithPrefix(testPrefix(t, root)))
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
