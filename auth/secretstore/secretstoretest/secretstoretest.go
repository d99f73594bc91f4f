package secretstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/crmkit/crmkit/auth"
)

// Run runs the conformance suite against the stores newStore returns, one
// per subtest. Keys use only letters, digits, '-', '_' and '.', are at most
// 64 bytes, and start with a letter, so every store can hold them.
func Run(t *testing.T, newStore func(t *testing.T) auth.SecretStore) {
	t.Helper()
	prefix := "sst-" + randomHex(6)
	key := func(t *testing.T, name string) string {
		return prefix + "-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()[strings.LastIndex(t.Name(), "/")+1:]) + name
	}
	ctx := context.Background()

	t.Run("MissingKey", func(t *testing.T) {
		s := newStore(t)
		k := key(t, "")
		if _, err := s.Get(ctx, k); !errors.Is(err, auth.ErrSecretNotFound) {
			t.Errorf("Get of a key never written: %v, want auth.ErrSecretNotFound", err)
		}
		if _, err := s.CompareAndSwap(ctx, k, 1, []byte("v")); !errors.Is(err, auth.ErrVersionConflict) {
			t.Errorf("CompareAndSwap(version 1) of a key never written: %v, want auth.ErrVersionConflict", err)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, auth.ErrSecretNotFound) {
			t.Errorf("a refused CompareAndSwap created the key: Get says %v", err)
		}
	})

	t.Run("CreateThenReplace", func(t *testing.T) {
		s := newStore(t)
		k := key(t, "")
		v1, err := s.CompareAndSwap(ctx, k, 0, []byte("one"))
		if err != nil || v1 <= 0 {
			t.Fatalf("create: version %d, %v; want a version > 0", v1, err)
		}
		mustGet(t, s, k, "one", v1)
		if _, err := s.CompareAndSwap(ctx, k, 0, []byte("again")); !errors.Is(err, auth.ErrVersionConflict) {
			t.Errorf("a second create: %v, want auth.ErrVersionConflict", err)
		}
		mustGet(t, s, k, "one", v1)
		v2, err := s.CompareAndSwap(ctx, k, v1, []byte("two"))
		if err != nil || v2 <= v1 {
			t.Fatalf("replace from version %d: version %d, %v; want a larger version", v1, v2, err)
		}
		mustGet(t, s, k, "two", v2)
		for _, stale := range []int64{v1, v2 + 1, -1} {
			if _, err := s.CompareAndSwap(ctx, k, stale, []byte("stale")); !errors.Is(err, auth.ErrVersionConflict) {
				t.Errorf("replace from version %d when %d is stored: %v, want auth.ErrVersionConflict", stale, v2, err)
			}
		}
		mustGet(t, s, k, "two", v2)
		v3, err := s.CompareAndSwap(ctx, k, v2, []byte("three"))
		if err != nil || v3 <= v2 {
			t.Fatalf("replace from version %d: version %d, %v", v2, v3, err)
		}
		mustGet(t, s, k, "three", v3)
	})

	t.Run("Values", func(t *testing.T) {
		s := newStore(t)
		big := make([]byte, 64<<10)
		_, _ = rand.Read(big)
		for name, val := range map[string][]byte{
			"binary": {0, 1, 0xff, 0xfe, '"', '\\', '\n', 0},
			"json":   []byte(`{"refresh_token":"rt","expiry":"2030-01-01T00:00:00Z"}`),
			"utf8":   []byte("clé secrète ✓"),
			"empty":  {},
			"64KiB":  big,
		} {
			k := key(t, "-"+name)
			v, err := s.CompareAndSwap(ctx, k, 0, val)
			if err != nil {
				t.Errorf("%s value: create: %v", name, err)
				continue
			}
			sec, err := s.Get(ctx, k)
			if err != nil || sec.Version != v || !bytes.Equal(sec.Value, val) {
				t.Errorf("%s value: Get returned %d bytes at version %d (%v), want %d bytes at version %d", name, len(sec.Value), sec.Version, err, len(val), v)
			}
		}
	})

	t.Run("ValuesAreCopied", func(t *testing.T) {
		s := newStore(t)
		k := key(t, "")
		in := []byte("original")
		v, err := s.CompareAndSwap(ctx, k, 0, in)
		if err != nil {
			t.Fatal(err)
		}
		copy(in, "mutated!")
		mustGet(t, s, k, "original", v)
		sec, err := s.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		copy(sec.Value, "mutated!")
		mustGet(t, s, k, "original", v)
	})

	t.Run("KeysAreIndependent", func(t *testing.T) {
		s := newStore(t)
		base := key(t, "")
		keys := []string{base, base + "a", base + ".a", base + "_a", base + "-a"}
		for i, k := range keys {
			if _, err := s.CompareAndSwap(ctx, k, 0, []byte(strconv.Itoa(i))); err != nil {
				t.Fatalf("create %s: %v", k, err)
			}
		}
		sec, err := s.Get(ctx, keys[0])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CompareAndSwap(ctx, keys[0], sec.Version, []byte("changed")); err != nil {
			t.Fatal(err)
		}
		for i, k := range keys[1:] {
			sec, err := s.Get(ctx, k)
			if err != nil || string(sec.Value) != strconv.Itoa(i+1) {
				t.Errorf("%s: %q, %v; writing %s changed it", k, sec.Value, err, keys[0])
			}
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newStore(t)
		k := key(t, "")
		v, err := s.CompareAndSwap(ctx, k, 0, []byte("kept"))
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Get(cctx, k); err == nil {
			t.Error("Get with a cancelled context succeeded")
		}
		if _, err := s.CompareAndSwap(cctx, k, v, []byte("written")); err == nil {
			t.Error("CompareAndSwap with a cancelled context succeeded")
		}
		if _, err := s.CompareAndSwap(cctx, key(t, "-new"), 0, []byte("written")); err == nil {
			t.Error("CompareAndSwap (create) with a cancelled context succeeded")
		}
		mustGet(t, s, k, "kept", v)
		if _, err := s.Get(ctx, key(t, "-new")); !errors.Is(err, auth.ErrSecretNotFound) {
			t.Errorf("a create with a cancelled context left the key behind: %v", err)
		}
	})

	t.Run("OneWinnerPerVersion", func(t *testing.T) {
		s := newStore(t)
		k := key(t, "")
		const writers = 8
		for round := range 3 {
			var from int64
			if round > 0 {
				sec, err := s.Get(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				from = sec.Version
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins, conflicts := 0, 0
			start := make(chan struct{})
			for i := range writers {
				wg.Go(func() {
					<-start
					_, err := s.CompareAndSwap(ctx, k, from, []byte(fmt.Sprint("writer-", i)))
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case errors.Is(err, auth.ErrVersionConflict):
						conflicts++
					default:
						t.Errorf("writer %d: %v", i, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if wins != 1 || conflicts != writers-1 {
				t.Errorf("round %d: %d writers from version %d won and %d got a conflict; want exactly 1 and %d", round, wins, from, conflicts, writers-1)
			}
		}
	})

	t.Run("ConcurrentIncrements", func(t *testing.T) {
		s := newStore(t)
		k := key(t, "")
		if _, err := s.CompareAndSwap(ctx, k, 0, []byte("0")); err != nil {
			t.Fatal(err)
		}
		const workers, each = 4, 10
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[int64]bool{}
		for range workers {
			wg.Go(func() {
				for done := 0; done < each; {
					sec, err := s.Get(ctx, k)
					if err != nil {
						t.Error(err)
						return
					}
					n, err := strconv.Atoi(string(sec.Value))
					if err != nil {
						t.Errorf("stored counter %q: %v", sec.Value, err)
						return
					}
					v, err := s.CompareAndSwap(ctx, k, sec.Version, []byte(strconv.Itoa(n+1)))
					if errors.Is(err, auth.ErrVersionConflict) {
						continue
					}
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if seen[v] {
						t.Errorf("version %d was returned to two writers", v)
					}
					seen[v] = true
					mu.Unlock()
					done++
				}
			})
		}
		wg.Wait()
		sec, err := s.Get(ctx, k)
		if err != nil || string(sec.Value) != strconv.Itoa(workers*each) {
			t.Errorf("counter %q (%v) after %d increments by compare-and-swap: an update was lost", sec.Value, err, workers*each)
		}
	})

	t.Run("ErrorsHideValues", func(t *testing.T) {
		s := newStore(t)
		k := key(t, "")
		stored := "stored-secret-" + randomHex(8)
		attempted := "attempted-secret-" + randomHex(8)
		v, err := s.CompareAndSwap(ctx, k, 0, []byte(stored))
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		var errs []error
		_, err = s.CompareAndSwap(ctx, k, 0, []byte(attempted))
		errs = append(errs, err)
		_, err = s.CompareAndSwap(ctx, k, v+5, []byte(attempted))
		errs = append(errs, err)
		_, err = s.CompareAndSwap(cctx, k, v, []byte(attempted))
		errs = append(errs, err)
		_, err = s.Get(cctx, k)
		errs = append(errs, err)
		for i, err := range errs {
			if err == nil {
				t.Errorf("error %d: the call succeeded", i)
				continue
			}
			out := fmt.Sprintf("%v|%+v|%#v|%s", err, err, err, err.Error())
			if strings.Contains(out, stored) || strings.Contains(out, attempted) {
				t.Errorf("error %d repeats a secret value: %s", i, out)
			}
		}
		sec, err := s.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if out := fmt.Sprintf("%v|%+v|%#v|%s", sec, sec, sec, sec); strings.Contains(out, stored) {
			t.Errorf("a Secret printed its value: %s", out)
		}
	})
}

func mustGet(t *testing.T, s auth.SecretStore, key, want string, version int64) {
	t.Helper()
	sec, err := s.Get(context.Background(), key)
	if err != nil || string(sec.Value) != want || sec.Version != version {
		t.Errorf("Get(%s) = %q at version %d (%v), want %q at version %d", key, sec.Value, sec.Version, err, want, version)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
