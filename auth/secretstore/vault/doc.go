// Package vault keeps crmkit's rotating credentials (refresh tokens,
// API tokens) in HashiCorp Vault, as an auth.SecretStore over a KV
// version 2 secrets engine. It is the store to use when workers run on
// several machines and Vault is already where the organisation keeps its
// secrets: every worker reads the same token, and Vault's check-and-set
// decides which worker may rotate it.
//
// # Using it
//
// Build a client with crmkit's TLS policy, a Store over the KV v2 mount,
// and hand the Store to auth.Rotating:
//
//	client, err := vault.NewClient("https://vault.example.com:8200", token, nil)
//	if err != nil { ... }
//	store, err := vault.New(client, "secret", vault.WithPrefix("crmkit/prod"))
//	if err != nil { ... }
//	if err := store.Check(ctx); err != nil { ... } // mount missing, not KV v2, no access
//	src := &auth.Rotating{Store: store, Key: "hubspot", ...}
//
// Each key is one KV secret (with WithPrefix("crmkit/prod"), the key
// "hubspot" is secret/data/crmkit/prod/hubspot). Its data map has two
// fields: value, the secret's bytes in standard base64, and write_id, a
// random id per write. To seed a key by hand:
//
//	vault kv put -cas=0 secret/crmkit/prod/hubspot value="$(printf %s "$TOKEN" | base64 -w0)"
//
// # Versions and check-and-set
//
// A Secret's Version is the KV version number. CompareAndSwap writes with
// KV's cas option: cas=0 when oldVersion is 0 (only if the key does not
// exist), otherwise cas=oldVersion, so of several workers writing over one
// version exactly one succeeds and the others get auth.ErrVersionConflict.
// Get returns the latest version; a missing key, or one whose latest
// version was deleted (vault kv delete) or destroyed, is
// auth.ErrSecretNotFound, and CompareAndSwap with oldVersion 0 may then
// write it again. The API client retries a request whose connection
// dropped; when such a retried write is refused by check-and-set, the
// store reads the version back and compares write_id, so a write that
// landed is reported as landed.
//
// # Access
//
// The token needs create, read and update on the mount's data/ paths and
// read on its metadata/ paths (for WithPrefix("crmkit/prod") on "secret"):
//
//	path "secret/data/crmkit/prod/*"     { capabilities = ["create", "read", "update"] }
//	path "secret/metadata/crmkit/prod/*" { capabilities = ["read"] }
//
// Check also reads sys/internal/ui/mounts/<mount>, which Vault allows to
// any token with access to the mount; Vault answers alike for a mount that
// does not exist and one the token may not use, so Check's error names
// both fixes.
//
// # TLS
//
// NewClient builds the Vault client's transport from auth.TLSConfig (TLS
// 1.2 or newer, system roots unless a pool is given, verification always
// on), and ignores VAULT_SKIP_VERIFY and the other TLS environment
// variables. A client built elsewhere works too if its transport keeps the
// policy; configure it like this:
//
//	cfg := vaultapi.DefaultConfig()
//	tr := cfg.HttpClient.Transport.(*http.Transport)
//	tr.TLSClientConfig = auth.TLSConfig(roots)
//	client, err := vaultapi.NewClient(cfg)
//
// New refuses a client that skips verification, allows TLS older than
// 1.2, has a transport other than *http.Transport, or speaks plain http
// to anything but a loopback address: plain http carries the token in
// clear, so it is accepted only for a dev server or a Vault Agent on the
// same machine.
//
// # Errors
//
// Errors name the key, the operation, Vault's HTTP status and message and
// the likely fix (a missing policy on 403, a mount that is not KV v2 on
// 404). They never contain the token or the value being written, and
// they wrap the Vault API client's error: errors.Is finds
// context.Canceled, errors.As finds *vaultapi.ResponseError.
//
// # Testing
//
// The tests run against a real Vault dev server: scripts/vault.sh start
// builds Vault from the tools/vault module (once; the binary is cached),
// starts it on a loopback port and writes CRMKIT_TEST_VAULT_ADDR and
// CRMKIT_TEST_VAULT_TOKEN to .tools/run/vault.env. Without them the tests
// skip, unless CRMKIT_REQUIRE_SERVERS=1, when they fail.
package vault
