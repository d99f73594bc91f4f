package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
)

// Secret is a versioned value in a SecretStore. It prints, logs and
// encodes as JSON with its version only, its value [REDACTED].
type Secret struct {
	Value   []byte
	Version int64
}

func (s Secret) view() view {
	return view{typ: "auth.Secret", attrs: []slog.Attr{slog.Int64("version", s.Version), hidden("value", string(s.Value))}}
}

// String shows the version only.
func (s Secret) String() string { return s.view().String() }

// GoString makes %#v as safe as %v.
func (s Secret) GoString() string { return s.String() }

// Format prints String for every verb, so that no verb or flag reaches the
// value.
func (s Secret) Format(f fmt.State, _ rune) { s.view().format(f) }

// LogValue logs the version only.
func (s Secret) LogValue() slog.Value { return s.view().LogValue() }

// MarshalJSON encodes the version only, so that a Secret returned or
// logged as JSON reveals nothing; a store keeps the value in its own
// format.
func (s Secret) MarshalJSON() ([]byte, error) { return s.view().json() }

// ErrVersionConflict is returned by CompareAndSwap when the stored version
// is not the expected one: another worker wrote first. Re-read and decide.
var ErrVersionConflict = errors.New("auth: secret version conflict: another writer changed it first")

// ErrSecretNotFound is returned by Get for a key never written.
var ErrSecretNotFound = errors.New("auth: secret not found")

// SecretStore keeps credentials that change (rotated refresh tokens) where
// every worker sees them, with versioned compare-and-swap writes so that two
// workers never both act on one version.
//
// Every implementation behaves as MemoryStore does; the conformance suite
// in auth/secretstore/secretstoretest checks it: versions start at 1 and
// grow with each write, values are copied in and out, a cancelled context
// changes nothing, and no error contains a value.
type SecretStore interface {
	// Get returns the current value and version, or ErrSecretNotFound.
	Get(ctx context.Context, key string) (Secret, error)
	// CompareAndSwap writes newValue if the stored version is oldVersion
	// (0: the key must not exist) and returns the new version, or
	// ErrVersionConflict.
	CompareAndSwap(ctx context.Context, key string, oldVersion int64, newValue []byte) (int64, error)
}

// MemoryStore is a SecretStore in memory, for one process and tests.
type MemoryStore struct {
	mu sync.Mutex
	m  map[string]Secret
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: map[string]Secret{}} }

// Get implements SecretStore.
func (s *MemoryStore) Get(ctx context.Context, key string) (Secret, error) {
	if err := ctx.Err(); err != nil {
		return Secret{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return Secret{}, ErrSecretNotFound
	}
	return Secret{Value: append([]byte(nil), v.Value...), Version: v.Version}, nil
}

// CompareAndSwap implements SecretStore.
func (s *MemoryStore) CompareAndSwap(ctx context.Context, key string, oldVersion int64, newValue []byte) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[key].Version != oldVersion {
		return 0, ErrVersionConflict
	}
	s.m[key] = Secret{Value: append([]byte(nil), newValue...), Version: oldVersion + 1}
	return oldVersion + 1, nil
}

// String names the stored keys, never their values.
func (s *MemoryStore) String() string { return s.view().String() }

// GoString makes %#v as safe as %v.
func (s *MemoryStore) GoString() string { return s.String() }

// Format prints String for every verb, so that no verb or flag reaches a
// stored value.
func (s *MemoryStore) Format(f fmt.State, _ rune) { s.view().format(f) }

// LogValue logs the stored keys, never their values.
func (s *MemoryStore) LogValue() slog.Value { return s.view().LogValue() }

func (s *MemoryStore) view() view {
	s.mu.Lock()
	defer s.mu.Unlock()
	return view{typ: "auth.MemoryStore", attrs: []slog.Attr{keysAttr("keys", s.m)}}
}

// FileStore is a SecretStore in a directory: one file per key, mode 0600,
// replaced by atomic rename, with an flock on a lock file so that workers
// in several processes on one machine take turns.
type FileStore struct {
	dir string
}

// NewFileStore returns a store in dir, creating it (mode 0700).
func NewFileStore(dir string) (*FileStore, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: file secret store: %w", err)
	}
	return &FileStore{dir: dir}, nil
}

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

type fileSecret struct {
	Version int64  `json:"version"`
	Value   []byte `json:"value"`
}

func (s *FileStore) path(key string) (string, error) {
	if !keyPattern.MatchString(key) || key[0] == '.' {
		return "", fmt.Errorf("auth: file secret store: key %q: use letters, digits, '.', '_' and '-' (not leading '.')", key)
	}
	return filepath.Join(s.dir, key+".secret"), nil
}

func (s *FileStore) read(p string) (Secret, error) {
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Secret{}, ErrSecretNotFound
	}
	if err != nil {
		return Secret{}, fmt.Errorf("auth: file secret store: %w", err)
	}
	var fs fileSecret
	if err := json.Unmarshal(b, &fs); err != nil {
		return Secret{}, fmt.Errorf("auth: file secret store: %s is corrupt: restore it or write it again", filepath.Base(p))
	}
	return Secret{Value: fs.Value, Version: fs.Version}, nil
}

// Get implements SecretStore.
func (s *FileStore) Get(ctx context.Context, key string) (Secret, error) {
	p, err := s.path(key)
	if err != nil {
		return Secret{}, err
	}
	if err := ctx.Err(); err != nil {
		return Secret{}, err
	}
	return s.read(p) // rename is atomic: a reader sees the old or the new file
}

// CompareAndSwap implements SecretStore.
func (s *FileStore) CompareAndSwap(ctx context.Context, key string, oldVersion int64, newValue []byte) (int64, error) {
	p, err := s.path(key)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	unlock, err := lockFile(p + ".lock")
	if err != nil {
		return 0, fmt.Errorf("auth: file secret store: locking %s: %w", key, err)
	}
	defer unlock()
	cur, err := s.read(p)
	if err != nil && !errors.Is(err, ErrSecretNotFound) {
		return 0, err
	}
	if cur.Version != oldVersion {
		return 0, ErrVersionConflict
	}
	b, _ := json.Marshal(fileSecret{Version: oldVersion + 1, Value: newValue})
	tmp, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return 0, fmt.Errorf("auth: file secret store: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(b)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		return 0, fmt.Errorf("auth: file secret store: writing %s: %w", key, err)
	}
	return oldVersion + 1, nil
}
