package auth_test

// The rotation race against Hydra: 16 goroutines in each of 4 processes
// share one expired token through a SecretStore; exactly one refresh may
// reach Hydra, every goroutine must end with the same new access token,
// and Hydra's refresh-token reuse detection must never fire.
//
// The processes are this test binary started again with raceChildEnv set
// (TestMain sends them to raceChild). They live for the whole test and
// take one round per line on stdin, so that a round costs a refresh, not
// four process starts.
//
// Adding a store: give raceStores an entry (in an init function of a test
// file of this package) that opens the store from settings read with
// getenv, and call runRotationRace with the environment that selects it:
//
//	func init() { raceStores["vault"] = openVaultRaceStore }
//	func TestRotationRaceVault(t *testing.T) {
//		addr, token := ... // skip or fail as serverEnv does
//		runRotationRace(t, []string{raceStoreEnv + "=vault", "CRMKIT_RACE_VAULT_ADDR=" + addr, ...}, raceRounds(t))
//	}

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crmkit/crmkit/auth"
	"github.com/crmkit/crmkit/auth/secretstore/postgres"
)

const (
	// raceChildEnv makes the test binary a race worker process.
	raceChildEnv = "CRMKIT_RACE_CHILD"
	// raceStoreEnv names the store the workers share: a key of raceStores.
	raceStoreEnv = "CRMKIT_RACE_STORE"
	// envPostgresDSN is the test PostgreSQL server (scripts/postgres.sh).
	envPostgresDSN = "CRMKIT_TEST_POSTGRES_DSN"

	raceProcesses  = 4
	raceGoroutines = 16
)

// raceStores opens the store CRMKIT_RACE_STORE names, in each worker process
// and in the test itself, from settings read with getenv; closeStore
// releases it.
var raceStores = map[string]func(ctx context.Context, getenv func(string) string) (store auth.SecretStore, closeStore func(), err error){
	"file": func(_ context.Context, getenv func(string) string) (auth.SecretStore, func(), error) {
		s, err := auth.NewFileStore(getenv("CRMKIT_RACE_FILE_DIR"))
		return s, func() {}, err
	},
	"postgres": func(ctx context.Context, getenv func(string) string) (auth.SecretStore, func(), error) {
		s, err := postgres.Open(ctx, getenv("CRMKIT_RACE_POSTGRES_DSN"))
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	},
}

// raceRounds is how many rounds a race test runs: 100, 10 with -short, or
// CRMKIT_RACE_ROUNDS.
func raceRounds(t *testing.T) int {
	if s := os.Getenv("CRMKIT_RACE_ROUNDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CRMKIT_RACE_ROUNDS=%q: want a positive number", s)
		}
		return n
	}
	if testing.Short() {
		return 10
	}
	return 100
}

func TestRotationRacePostgres(t *testing.T) {
	dsn := serverEnv(t, "scripts/postgres.sh start, then source .tools/run/postgres.env", envPostgresDSN)[0]
	secret(dsn)
	runRotationRace(t, []string{raceStoreEnv + "=postgres", "CRMKIT_RACE_POSTGRES_DSN=" + dsn}, raceRounds(t))
}

// The file store shares a token between processes on one machine.
func TestRotationRaceFile(t *testing.T) {
	rounds := raceRounds(t)
	if os.Getenv("CRMKIT_RACE_ROUNDS") == "" {
		rounds = min(rounds, 20) // the PostgreSQL run is the long one
	}
	runRotationRace(t, []string{raceStoreEnv + "=file", "CRMKIT_RACE_FILE_DIR=" + t.TempDir()}, rounds)
}

// raceResult is a worker process's report on one round.
type raceResult struct {
	Tokens []string `json:"tokens"` // a hash of each goroutine's access token
	Errors []string `json:"errors"`
}

// tokenHash identifies a token in reports without revealing it.
func tokenHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// raceWorker is one worker process.
type raceWorker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *bytes.Buffer
}

// runRotationRace runs rounds of the race with the store storeEnv selects
// (raceStoreEnv=<name> and the store's settings, passed to every worker).
func runRotationRace(t *testing.T, storeEnv []string, rounds int) {
	h := newHydra(t)
	ctx := context.Background()
	begin := time.Now()

	// Every token request to Hydra goes through this proxy, which counts
	// the refresh-token grants.
	var refreshes atomic.Int64
	target, _ := url.Parse(h.public)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/oauth2/token" {
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			_ = r.Body.Close()
			if form, err := url.ParseQuery(string(body)); err == nil && form.Get("grant_type") == "refresh_token" {
				refreshes.Add(1)
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	flow := h.codeClient(t, "client_secret_basic")
	first := h.tokens(t, flow)
	flow.TokenURL = proxy.URL + "/oauth2/token"

	settings := map[string]string{}
	for _, kv := range storeEnv {
		k, v, _ := strings.Cut(kv, "=")
		settings[k] = v
	}
	getenv := func(k string) string { return settings[k] }
	openStore, ok := raceStores[getenv(raceStoreEnv)]
	if !ok {
		t.Fatalf("%s=%q: no such race store (have %v)", raceStoreEnv, getenv(raceStoreEnv), slices.Sorted(maps.Keys(raceStores)))
	}
	store, closeStore, err := openStore(ctx, getenv)
	if err != nil {
		observeErr(err)
		t.Fatalf("opening the store: %v", err)
	}
	defer closeStore()

	env := append(os.Environ(), storeEnv...)
	env = append(env, raceChildEnv+"=1", "CRMKIT_RACE_TOKEN_URL="+flow.TokenURL,
		"CRMKIT_RACE_CLIENT_ID="+flow.ClientID, "CRMKIT_RACE_CLIENT_SECRET="+flow.ClientSecret)
	workers := make([]*raceWorker, raceProcesses)
	for i := range workers {
		w := &raceWorker{cmd: exec.Command(os.Args[0], "-test.run=^$"), stderr: &bytes.Buffer{}}
		w.cmd.Env, w.cmd.Stderr = env, w.stderr
		w.stdin, _ = w.cmd.StdinPipe()
		out, _ := w.cmd.StdoutPipe()
		w.lines = bufio.NewScanner(out)
		w.lines.Buffer(make([]byte, 64<<10), 1<<20)
		if err := w.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		workers[i] = w
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		for i, w := range workers {
			_ = w.stdin.Close()
			err := w.cmd.Wait()
			observe(w.stderr.String())
			if err != nil {
				t.Errorf("worker %d: %v\n%s", i, err, w.stderr)
			}
		}
	}
	defer stop()
	readLine := func(i int) string {
		if !workers[i].lines.Scan() {
			t.Fatalf("worker %d stopped: %v\n%s", i, workers[i].lines.Err(), workers[i].stderr)
		}
		return workers[i].lines.Text()
	}
	for i := range workers {
		if line := readLine(i); line != "ready" {
			observe(line)
			t.Fatalf("worker %d: %s\n%s", i, line, workers[i].stderr)
		}
	}

	access, refresh := first.AccessToken, first.RefreshToken
	prefix := "race-" + rand.Text()[:12]
	perRound := map[int64]int{} // refreshes per round → rounds
	for round := range rounds {
		key := fmt.Sprintf("%s-%d", prefix, round)
		// Alternate: one Rotating per process shared by its goroutines (as
		// behind a Transport), then one per goroutine (64 independent
		// workers).
		mode := []string{"shared", "separate"}[round%2]
		expired := &auth.Token{AccessToken: access, TokenType: "bearer", RefreshToken: refresh, Expiry: time.Now().Add(-time.Minute)}
		if err := auth.Seed(ctx, store, key, expired); err != nil {
			t.Fatalf("round %d: seed: %v", round, err)
		}
		seeded, err := store.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		before := refreshes.Load()
		for _, w := range workers {
			fmt.Fprintf(w.stdin, "%s %s\n", key, mode)
		}
		var hashes []string
		for i := range workers {
			var res raceResult
			line := readLine(i)
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				t.Fatalf("round %d: worker %d: %v in %q", round, i, err, line)
			}
			for _, e := range res.Errors {
				observe(e)
				t.Errorf("round %d (%s): worker %d: %s", round, mode, i, e)
			}
			hashes = append(hashes, res.Tokens...)
		}
		n := refreshes.Load() - before
		perRound[n]++

		// The store holds the new token, unleased: Rotating returns it
		// without refreshing (a refresh here would fail the test).
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		tok, err := (&auth.Rotating{Store: store, Key: key, Refresher: failRefresher{t}}).Token(rctx)
		cancel()
		if err != nil {
			t.Fatalf("round %d: the stored token: %v", round, err)
		}
		secret(tok.AccessToken, tok.RefreshToken)
		final, err := store.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case n != 1:
			t.Errorf("round %d (%s): %d refreshes reached Hydra, want exactly 1", round, mode, n)
		case tok.AccessToken == access || tok.RefreshToken == refresh:
			t.Errorf("round %d (%s): the stored token was not rotated", round, mode)
		case final.Version != seeded.Version+2:
			t.Errorf("round %d (%s): the store went from version %d to %d, want 2 writes (the claim and the rotated token)", round, mode, seeded.Version, final.Version)
		}
		want := tokenHash(tok.AccessToken)
		wrong := 0
		for _, hsh := range hashes {
			if hsh != want {
				wrong++
			}
		}
		if len(hashes) != raceProcesses*raceGoroutines || wrong > 0 {
			t.Errorf("round %d (%s): %d goroutines reported a token, %d of them not the stored one; want %d, all the same",
				round, mode, len(hashes), wrong, raceProcesses*raceGoroutines)
		}
		// Reuse detection would have revoked the chain, and with it this
		// access token.
		if !h.introspect(t, tok.AccessToken) {
			t.Errorf("round %d (%s): Hydra says the new access token is not active: the chain was revoked", round, mode)
		}
		if t.Failed() {
			t.Fatalf("stopping after round %d", round)
		}
		access, refresh = tok.AccessToken, tok.RefreshToken
	}
	stop()

	// After all the rounds the chain is still alive: its latest refresh
	// token works once more.
	last, err := flow.Refresh(ctx, refresh)
	observeErr(err)
	if err != nil {
		t.Fatalf("the chain's last refresh token was refused after %d rounds: %v", rounds, err)
	}
	secret(last.AccessToken, last.RefreshToken)
	t.Logf("%d rounds of %d processes × %d goroutines with the %s store in %v; refreshes per round → rounds: %v",
		rounds, raceProcesses, raceGoroutines, getenv(raceStoreEnv), time.Since(begin).Round(time.Millisecond), perRound)
}

// failRefresher fails the test if the token it guards needs a refresh.
type failRefresher struct{ t *testing.T }

func (f failRefresher) Refresh(context.Context, string) (*auth.Token, error) {
	f.t.Error("the stored token needed a refresh after the round")
	return nil, errors.New("no refresh expected")
}

// raceChild is a worker process: it opens the store, says "ready", then
// runs one round per line on stdin ("<key> shared|separate") and answers
// each with a raceResult line. It never prints a token.
func raceChild() int {
	ctx := context.Background()
	openStore, ok := raceStores[os.Getenv(raceStoreEnv)]
	if !ok {
		fmt.Printf("no race store %q\n", os.Getenv(raceStoreEnv))
		return 2
	}
	store, closeStore, err := openStore(ctx, os.Getenv)
	if err != nil {
		fmt.Printf("opening the store: %v\n", err)
		return 2
	}
	defer closeStore()
	flow := &auth.AuthCodeFlow{Name: "hydra", TokenURL: os.Getenv("CRMKIT_RACE_TOKEN_URL"),
		ClientID: os.Getenv("CRMKIT_RACE_CLIENT_ID"), ClientSecret: os.Getenv("CRMKIT_RACE_CLIENT_SECRET"), Auth: auth.ClientSecretBasic}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		key, mode, _ := strings.Cut(in.Text(), " ")
		newRotating := func() *auth.Rotating {
			return &auth.Rotating{Store: store, Key: key, Refresher: flow, Poll: 10 * time.Millisecond}
		}
		shared := newRotating()
		var mu sync.Mutex
		var res raceResult
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range raceGoroutines {
			rot := shared
			if mode == "separate" {
				rot = newRotating()
			}
			wg.Go(func() {
				<-start
				rctx, cancel := context.WithTimeout(ctx, time.Minute)
				defer cancel()
				tok, err := rot.Token(rctx)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					res.Errors = append(res.Errors, err.Error())
					return
				}
				res.Tokens = append(res.Tokens, tokenHash(tok.AccessToken))
			})
		}
		close(start)
		wg.Wait()
		if err := out.Encode(res); err != nil {
			return 3
		}
	}
	return 0
}
