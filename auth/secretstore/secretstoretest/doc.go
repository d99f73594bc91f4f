// Package secretstoretest is the conformance suite for auth.SecretStore
// implementations: every store crmkit ships (auth.MemoryStore,
// auth.FileStore, the PostgreSQL store, the Vault store) runs it, and so
// should a store an application writes for its own secrets manager.
//
// Rotating depends on exactly what the suite checks: a key never written
// is auth.ErrSecretNotFound; CompareAndSwap with version 0 creates and
// with the current version replaces, returning a larger version that Get
// then reports; any other version is auth.ErrVersionConflict and changes
// nothing; of many concurrent writers from one version exactly one wins;
// values of any bytes round-trip and are copied in and out; a cancelled
// context changes nothing; and no error repeats a value.
//
// Call Run from a test with a function that returns a store; it is called
// once per subtest. Keys are random per run, so a shared server (a
// database, a Vault) needs no cleaning between runs:
//
//	func TestConformance(t *testing.T) {
//		secretstoretest.Run(t, func(t *testing.T) auth.SecretStore {
//			return mystore.New(...)
//		})
//	}
package secretstoretest
