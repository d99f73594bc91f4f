package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Refresher trades a refresh token for a new token (and, on a rotating
// server, a new refresh token). *AuthCodeFlow is a Refresher.
type Refresher interface {
	Refresh(ctx context.Context, refreshToken string) (*Token, error)
}

// rotState is what Rotating keeps in the store.
type rotState struct {
	Access  string    `json:"access_token,omitempty"`
	Type    string    `json:"token_type,omitempty"`
	Refresh string    `json:"refresh_token"`
	Expiry  time.Time `json:"expiry,omitzero"`
	Lease   string    `json:"lease,omitempty"`      // the worker refreshing now
	LeaseTo time.Time `json:"lease_until,omitzero"` // when its claim lapses
}

// Rotating is a TokenSource for servers that rotate refresh tokens and
// revoke the whole chain when an old one is replayed, shared by many
// workers through a SecretStore. A worker that finds the stored access
// token expired claims the refresh with a compare-and-swap; only the
// winner calls the server, and it stores the rotated refresh token (again
// by compare-and-swap) before handing out the new access token, so the
// next refresh always starts from it. The losers re-read the store until
// the winner's token appears, or its claim lapses.
//
// One Rotating is safe for concurrent use: the goroutines of one process
// that call Token together share one trip to the store (and at most one
// refresh), so a process is one worker however many goroutines it runs.
// Each Token call reads the store; wrap Rotating in Reuse to keep the token
// in memory between calls (Reuse passes Invalidate on).
//
// Lease must outlast a refresh request (the HTTP client's timeout): a
// claim that lapses while its refresh is still in flight lets a second
// worker replay the same refresh token.
type Rotating struct {
	Store     SecretStore
	Key       string
	Refresher Refresher
	// Lease bounds how long a claim blocks others (30s when zero).
	Lease time.Duration
	// Poll is how often a waiting worker re-reads (50ms when zero).
	Poll time.Duration
	Now  func() time.Time

	mu       sync.Mutex
	rejected string
	flight   *flight // this process's trip to the store, if one is under way
}

// Seed stores the first refresh token under key (version 0 → 1), as after
// an authorization code exchange.
func Seed(ctx context.Context, store SecretStore, key string, tok *Token) error {
	b, _ := json.Marshal(rotState{Access: tok.AccessToken, Type: tok.TokenType, Refresh: tok.RefreshToken, Expiry: tok.Expiry})
	_, err := store.CompareAndSwap(ctx, key, 0, b)
	return err
}

// Invalidate marks the current access token as refused, so the next Token
// call refreshes even if it has not expired.
func (r *Rotating) Invalidate() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejected = "*"
}

// Token returns the shared access token, refreshing it when expired.
// Concurrent calls on one Rotating wait for one of them to finish and
// share its result.
func (r *Rotating) Token(ctx context.Context) (*Token, error) {
	for {
		r.mu.Lock()
		f := r.flight
		leader := f == nil
		if leader {
			f = &flight{done: make(chan struct{})}
			r.flight = f
		}
		r.mu.Unlock()
		if leader {
			tok, err := r.token(ctx)
			r.mu.Lock()
			r.flight = nil
			f.tok, f.err = tok.clone(), err
			r.mu.Unlock()
			close(f.done)
			return tok, err
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		// The leader gave up because its own ctx ended; a waiter whose ctx
		// is alive tries again rather than inherit that.
		if f.err != nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) && ctx.Err() == nil {
			continue
		}
		return f.tok.clone(), f.err
	}
}

// token is one trip to the store: it returns the stored token, waits for
// another worker's refresh, or claims and performs the refresh itself.
func (r *Rotating) token(ctx context.Context) (*Token, error) {
	// Each trip claims under its own id, so a claim is never mistaken for
	// another trip's, even in the same process.
	id := randomID()
	now, lease, poll := nowOr(r.Now), r.Lease, r.Poll
	if lease <= 0 {
		lease = 30 * time.Second
	}
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	for {
		sec, err := r.Store.Get(ctx, r.Key)
		if err != nil {
			return nil, fmt.Errorf("auth: rotating %s: %w", r.Key, err)
		}
		var st rotState
		if err := json.Unmarshal(sec.Value, &st); err != nil || st.Refresh == "" {
			return nil, fmt.Errorf("auth: rotating %s: the stored state is not a refresh token: store one with auth.Seed", r.Key)
		}
		r.mu.Lock()
		if r.rejected == "*" {
			r.rejected = st.Access
		}
		rejected := r.rejected
		r.mu.Unlock()
		t := &Token{AccessToken: st.Access, TokenType: st.Type, RefreshToken: st.Refresh, Expiry: st.Expiry}
		if st.Access != "" && st.Access != rejected && t.Valid(now()) && st.Lease == "" {
			return t, nil
		}
		if st.Lease != "" && st.Lease != id && now().Before(st.LeaseTo) {
			if err := sleepCtx(ctx, poll); err != nil {
				return nil, err
			}
			continue
		}
		// Claim the refresh.
		claim := st
		claim.Lease, claim.LeaseTo = id, now().Add(lease)
		b, _ := json.Marshal(claim)
		v, err := r.Store.CompareAndSwap(ctx, r.Key, sec.Version, b)
		if errors.Is(err, ErrVersionConflict) {
			continue // someone else claimed or finished: re-read
		}
		if err != nil {
			return nil, fmt.Errorf("auth: rotating %s: claiming the refresh: %w", r.Key, err)
		}
		nt, err := r.Refresher.Refresh(ctx, st.Refresh)
		if err != nil {
			// Release the claim so another worker may try.
			b, _ := json.Marshal(st)
			_, _ = r.Store.CompareAndSwap(context.WithoutCancel(ctx), r.Key, v, b)
			return nil, err
		}
		if nt.RefreshToken == "" {
			nt.RefreshToken = st.Refresh
		}
		b, _ = json.Marshal(rotState{Access: nt.AccessToken, Type: nt.TokenType, Refresh: nt.RefreshToken, Expiry: nt.Expiry})
		if _, err := r.Store.CompareAndSwap(context.WithoutCancel(ctx), r.Key, v, b); err != nil {
			return nil, fmt.Errorf("auth: rotating %s: storing the rotated refresh token failed, so the token is not used (the chain may need a new authorization): %w", r.Key, err)
		}
		return nt, nil
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// view shows the configuration: the store and the refresher only by type
// (either may hold credentials), never the tokens in the store or the
// access token last refused.
func (r *Rotating) view() view {
	return view{typ: "auth.Rotating", attrs: []slog.Attr{typeAttr("store", r.Store), slog.String("key", r.Key),
		typeAttr("refresher", r.Refresher), slog.Duration("lease", r.Lease), slog.Duration("poll", r.Poll)}}
}

// String describes r without any credential.
func (r *Rotating) String() string { return r.view().String() }

// GoString makes %#v as safe as %v.
func (r *Rotating) GoString() string { return r.String() }

// Format prints String for every verb, so that no verb or flag reaches a
// token.
func (r *Rotating) Format(f fmt.State, _ rune) { r.view().format(f) }

// LogValue logs r without any credential.
func (r *Rotating) LogValue() slog.Value { return r.view().LogValue() }
