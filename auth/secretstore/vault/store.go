package vault

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/crmkit/crmkit/auth"
)

// The fields of the KV v2 data map a Store writes. value holds the secret's
// bytes in standard base64, so that any bytes survive Vault's JSON;
// write_id is random per write and lets a writer whose response was lost
// (the API client retries on a dropped connection or a 5xx) tell whether
// its write landed.
const (
	fieldValue   = "value"
	fieldWriteID = "write_id"
)

// casMismatch is the text of KV v2's refusal when the cas option does not
// match the secret's current version (HTTP 400).
const casMismatch = "check-and-set parameter did not match the current version"

// Store is an auth.SecretStore in a HashiCorp Vault KV version 2 secrets
// engine. Each key is one KV secret; a Secret's Version is the KV version
// number, and CompareAndSwap is a write with KV's check-and-set option, so
// Vault itself decides which of several racing workers wins. A Store is
// safe for concurrent use by many goroutines and processes.
type Store struct {
	client *vaultapi.Client
	kv     *vaultapi.KVv2
	mount  string
	prefix string
}

var _ auth.SecretStore = (*Store)(nil)

// Option configures a Store.
type Option func(*options)

type options struct {
	prefix string
}

// WithPrefix keeps every key under prefix inside the mount (a key "hubspot"
// with prefix "crmkit/prod" is the KV secret crmkit/prod/hubspot), so that
// a Vault policy can grant crmkit's token only that subtree:
//
//	path "secret/data/crmkit/prod/*"     { capabilities = ["create", "read", "update"] }
//	path "secret/metadata/crmkit/prod/*" { capabilities = ["read"] }
func WithPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// New returns a Store over the KV version 2 engine mounted at mount (dev
// servers and most installations mount one at "secret") that talks to Vault
// through client. The client carries the address, token and namespace;
// NewClient builds one with crmkit's TLS policy.
//
// New refuses a client that would weaken the connection: plain http to a
// host that is not a loopback address (the token would cross the network
// in clear), or https whose transport skips certificate verification,
// allows TLS older than 1.2, or is not an *http.Transport whose TLS
// settings can be checked. It makes no request; Check does.
func New(client *vaultapi.Client, mount string, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("vault secret store: client is nil: build one with vault.NewClient(addr, token, roots)")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	m := strings.Trim(mount, "/")
	if err := checkPath(m); err != nil {
		return nil, fmt.Errorf("vault secret store: mount %q: %v (a KV v2 mount path such as \"secret\")", mount, err)
	}
	p := strings.Trim(o.prefix, "/")
	if p != "" {
		if err := checkPath(p); err != nil {
			return nil, fmt.Errorf("vault secret store: WithPrefix(%q): %v", o.prefix, err)
		}
	}
	if err := checkClient(client); err != nil {
		return nil, err
	}
	return &Store{client: client, kv: client.KVv2(m), mount: m, prefix: p}, nil
}

// Check asks Vault whether the store's mount is a KV version 2 engine the
// token can see, so that a misconfigured mount (missing, KV version 1, a
// typo) is reported at startup rather than on the first rotation.
func (s *Store) Check(ctx context.Context) error {
	sec, err := s.client.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+s.mount)
	var re *vaultapi.ResponseError
	// Vault answers 403 "preflight capability check" both for a mount that
	// does not exist and for one the token has no policy on.
	if errors.As(err, &re) && re.StatusCode == 403 && strings.Contains(strings.Join(re.Errors, " "), "preflight") {
		err, sec = nil, nil
	}
	if err != nil {
		return s.fail(fmt.Sprintf("checking mount %q", s.mount), err, nil)
	}
	if sec == nil || sec.Data == nil {
		return fmt.Errorf("vault secret store: mount %q does not exist or the token has no policy on it: enable it with `vault secrets enable -path=%s kv-v2`, or grant the token's policy access to %s/data/ and %s/metadata/", s.mount, s.mount, s.mount, s.mount)
	}
	typ, _ := sec.Data["type"].(string)
	var version string
	if o, ok := sec.Data["options"].(map[string]any); ok {
		version, _ = o["version"].(string)
	}
	if typ != "kv" || version != "2" {
		return fmt.Errorf("vault secret store: mount %q is %q version %q, not a KV version 2 engine: check-and-set needs KV v2 (`vault kv enable-versioning %s`)", s.mount, typ, version, s.mount)
	}
	return nil
}

// Get returns the latest version of key. A key never written, or whose
// latest version was deleted or destroyed, is auth.ErrSecretNotFound.
func (s *Store) Get(ctx context.Context, key string) (auth.Secret, error) {
	p, err := s.path(key)
	if err != nil {
		return auth.Secret{}, err
	}
	if err := ctx.Err(); err != nil {
		return auth.Secret{}, err
	}
	kvs, err := s.kv.Get(ctx, p)
	if errors.Is(err, vaultapi.ErrSecretNotFound) {
		return auth.Secret{}, auth.ErrSecretNotFound
	}
	if err != nil {
		return auth.Secret{}, s.fail(fmt.Sprintf("reading %q (%s/data/%s)", key, s.mount, p), err, nil)
	}
	if kvs.VersionMetadata == nil {
		return auth.Secret{}, fmt.Errorf("vault secret store: reading %q: Vault sent no version metadata: is %q a KV version 2 mount? (Store.Check tells)", key, s.mount)
	}
	md := kvs.VersionMetadata
	if kvs.Data == nil || md.Destroyed || !md.DeletionTime.IsZero() {
		return auth.Secret{}, auth.ErrSecretNotFound
	}
	val, err := decodeValue(kvs.Data)
	if err != nil {
		return auth.Secret{}, fmt.Errorf("vault secret store: reading %q (%s/%s, version %d): %v", key, s.mount, p, md.Version, err)
	}
	return auth.Secret{Value: val, Version: int64(md.Version)}, nil
}

// CompareAndSwap writes newValue as a new KV version if the current
// version is oldVersion, using KV's check-and-set option (cas=oldVersion;
// with oldVersion 0, cas=0: only if the key does not exist). It returns
// the new version, or auth.ErrVersionConflict when another writer got
// there first.
//
// A key whose latest version was deleted or destroyed counts as absent,
// as it does for Get: oldVersion 0 then writes over it (cas set to that
// deleted version, so only one writer wins).
func (s *Store) CompareAndSwap(ctx context.Context, key string, oldVersion int64, newValue []byte) (int64, error) {
	p, err := s.path(key)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if oldVersion < 0 {
		return 0, auth.ErrVersionConflict // no version is negative
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	data := map[string]any{
		fieldValue:   base64.StdEncoding.EncodeToString(newValue),
		fieldWriteID: hex.EncodeToString(id),
	}
	v, err := s.put(ctx, key, p, oldVersion, data, newValue)
	if !errors.Is(err, auth.ErrVersionConflict) || ctx.Err() != nil {
		return v, err
	}
	if oldVersion == 0 {
		cur, live, err := s.current(ctx, key, p, newValue)
		if err != nil {
			return 0, err
		}
		if cur > 0 && !live {
			return s.put(ctx, key, p, cur, data, newValue)
		}
	}
	return 0, auth.ErrVersionConflict
}

// put writes data with cas, mapping KV's check-and-set refusal to
// auth.ErrVersionConflict unless the refused request was a retry of this
// very write that had already landed.
func (s *Store) put(ctx context.Context, key, p string, cas int64, data map[string]any, value []byte) (int64, error) {
	kvs, err := s.kv.Put(ctx, p, data, vaultapi.WithCheckAndSet(int(cas)))
	if err == nil {
		if kvs == nil || kvs.VersionMetadata == nil {
			return 0, fmt.Errorf("vault secret store: writing %q: Vault sent no version: is %q a KV version 2 mount? (Store.Check tells)", key, s.mount)
		}
		return int64(kvs.VersionMetadata.Version), nil
	}
	if !isCASMismatch(err) {
		if errors.Is(err, vaultapi.ErrSecretNotFound) {
			return 0, fmt.Errorf("vault secret store: writing %q: Vault sent no version: is %q a KV version 2 mount? (Store.Check tells)", key, s.mount)
		}
		return 0, s.fail(fmt.Sprintf("writing %q (%s/data/%s)", key, s.mount, p), err, value)
	}
	if s.landed(ctx, p, cas+1, data[fieldWriteID]) {
		return cas + 1, nil
	}
	return 0, auth.ErrVersionConflict
}

// landed tells whether version v of p is this writer's write (its
// write_id matches).
func (s *Store) landed(ctx context.Context, p string, v int64, writeID any) bool {
	kvs, err := s.kv.GetVersion(ctx, p, int(v))
	if err != nil || kvs == nil || kvs.Data == nil {
		return false
	}
	return kvs.Data[fieldWriteID] == writeID
}

// current returns the key's current KV version and whether it is live
// (neither deleted nor destroyed); 0 when the key has no metadata.
func (s *Store) current(ctx context.Context, key, p string, value []byte) (int64, bool, error) {
	md, err := s.kv.GetMetadata(ctx, p)
	if errors.Is(err, vaultapi.ErrSecretNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, s.fail(fmt.Sprintf("writing %q: reading its metadata (%s/metadata/%s)", key, s.mount, p), err, value)
	}
	cur := int64(md.CurrentVersion)
	vm, ok := md.Versions[fmt.Sprint(cur)]
	live := ok && !vm.Destroyed && vm.DeletionTime.IsZero()
	return cur, live, nil
}

// path maps a key to its KV path inside the mount.
func (s *Store) path(key string) (string, error) {
	if err := checkPath(key); err != nil {
		return "", fmt.Errorf("vault secret store: key %q: %v", key, err)
	}
	if s.prefix == "" {
		return key, nil
	}
	return s.prefix + "/" + key, nil
}

var segment = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// checkPath accepts slash-separated segments of letters, digits, '.', '_'
// and '-': names that need no escaping in a Vault URL or policy.
func checkPath(p string) error {
	if p == "" {
		return errors.New("is empty")
	}
	if len(p) > 512 {
		return errors.New("is longer than 512 bytes")
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." || !segment.MatchString(seg) {
			return errors.New("use '/'-separated segments of letters, digits, '.', '_' and '-' (no empty, '.' or '..' segment)")
		}
	}
	return nil
}

func decodeValue(data map[string]any) ([]byte, error) {
	raw, ok := data[fieldValue]
	if !ok {
		return nil, fmt.Errorf("the secret has no %q field: it was not written by crmkit; write it with CompareAndSwap or `vault kv put <path> %s=<base64 of the value>`", fieldValue, fieldValue)
	}
	str, ok := raw.(string)
	if !ok {
		return nil, fmt.Errorf("the %q field is a %T, not a base64 string", fieldValue, raw)
	}
	b, err := base64.StdEncoding.DecodeString(str)
	if err != nil {
		return nil, fmt.Errorf("the %q field is not standard base64: write it again", fieldValue)
	}
	return b, nil
}

func isCASMismatch(err error) bool {
	var re *vaultapi.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 400 {
		return false
	}
	for _, e := range re.Errors {
		if strings.Contains(e, casMismatch) {
			return true
		}
	}
	return false
}

// fail turns an error from the Vault API client into one that names the
// operation, Vault's answer and the likely fix, and can contain neither
// the token nor value (the secret being written). It wraps err, so
// errors.Is finds context.Canceled and errors.As finds
// *vaultapi.ResponseError.
func (s *Store) fail(op string, err error, value []byte) error {
	var msg string
	var re *vaultapi.ResponseError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		msg = fmt.Sprintf("vault secret store: %s: %v", op, ctxOf(err))
	case errors.As(err, &re):
		msg = fmt.Sprintf("vault secret store: %s: Vault answered HTTP %d: %s", op, re.StatusCode, vaultMessage(re.Errors))
		switch re.StatusCode {
		case 403:
			msg += ": the token lacks a policy for this path, or it expired (the store needs create, read and update on the mount's data/ paths, and read on metadata/)"
		case 404:
			msg += fmt.Sprintf(": is %q a KV version 2 mount? (Store.Check tells)", s.mount)
		case 503:
			msg += ": Vault is sealed or in standby"
		}
	default:
		cause := err
		var ue *url.Error
		if errors.As(err, &ue) {
			cause = ue.Err // the URL is the address and path already named
		}
		msg = fmt.Sprintf("vault secret store: %s: cannot reach Vault at %s: %v", op, s.client.Address(), cause)
	}
	return &storeError{msg: redact(msg, s.client.Token(), value), err: err}
}

// vaultMessage flattens Vault's error list (whose entries may themselves
// be multi-line "2 errors occurred: * a * b" lists) into one short line.
func vaultMessage(errs []string) string {
	var parts []string
	for _, e := range errs {
		for line := range strings.Lines(e) {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*"))
			if line == "" || strings.HasSuffix(line, "errors occurred:") {
				continue
			}
			parts = append(parts, line)
		}
	}
	msg := strings.Join(parts, "; ")
	if len(msg) > 300 {
		msg = strings.ToValidUTF8(msg[:300], "") + "…"
	}
	if msg == "" {
		msg = "no message"
	}
	return msg
}

// ctxOf returns the context error err wraps, for a short message.
func ctxOf(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return context.Canceled
}

// redact removes the token and the value (raw and base64) from msg: no
// Vault message is known to echo them, and a store must not be the first.
func redact(msg, token string, value []byte) string {
	var secrets []string
	if token != "" {
		secrets = append(secrets, token)
	}
	if len(value) >= 4 {
		secrets = append(secrets, base64.StdEncoding.EncodeToString(value))
		if !bytes.ContainsAny(value, "\x00") {
			secrets = append(secrets, string(value))
		}
	}
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "[REDACTED]")
	}
	return msg
}

// storeError is a failure talking to Vault, with a message already
// stripped of credentials.
type storeError struct {
	msg string
	err error
}

func (e *storeError) Error() string { return e.msg }
func (e *storeError) Unwrap() error { return e.err }
