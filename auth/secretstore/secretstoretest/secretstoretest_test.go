package secretstoretest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/auth"
	"github.com/crmkit/crmkit/auth/secretstore/secretstoretest"
)

func TestMemoryStore(t *testing.T) {
	secretstoretest.Run(t, func(*testing.T) auth.SecretStore { return auth.NewMemoryStore() })
}

func TestFileStore(t *testing.T) {
	dir := t.TempDir() // one directory for the whole run, as workers share one
	secretstoretest.Run(t, func(t *testing.T) auth.SecretStore {
		s, err := auth.NewFileStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// lastWriterWins ignores the expected version, the classic broken store.
type lastWriterWins struct{ *auth.MemoryStore }

func (b lastWriterWins) CompareAndSwap(ctx context.Context, key string, _ int64, v []byte) (int64, error) {
	sec, _ := b.MemoryStore.Get(ctx, key)
	return b.MemoryStore.CompareAndSwap(ctx, key, sec.Version, v)
}

// The suite must fail a store that ignores versions. It runs in a child
// process (this test binary again) so that its failures are its own.
func TestSuiteCatchesLastWriterWins(t *testing.T) {
	if os.Getenv("SECRETSTORETEST_BROKEN_CHILD") != "" {
		secretstoretest.Run(t, func(*testing.T) auth.SecretStore { return lastWriterWins{auth.NewMemoryStore()} })
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteCatchesLastWriterWins$", "-test.v")
	cmd.Env = append(os.Environ(), "SECRETSTORETEST_BROKEN_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the suite passed a store that ignores versions:\n%s", out)
	}
	for _, sub := range []string{"--- FAIL: TestSuiteCatchesLastWriterWins/CreateThenReplace", "--- FAIL: TestSuiteCatchesLastWriterWins/OneWinnerPerVersion"} {
		if !strings.Contains(string(out), sub) {
			t.Errorf("the child's output lacks %q:\n%s", sub, out)
		}
	}
}
