package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// ReuseOption configures Reuse.
type ReuseOption func(*reuseConfig)

type reuseConfig struct {
	now      func() time.Time
	fraction float64
	logger   *slog.Logger
}

// WithClock sets the clock Reuse judges expiry by (time.Now by default), for
// tests and for hosts with their own clock.
func WithClock(now func() time.Time) ReuseOption { return func(c *reuseConfig) { c.now = now } }

// WithRefreshAt sets the fraction of a token's lifetime after which Reuse
// fetches a new one (0.8 by default), so a long call never starts with a
// token about to expire. Values outside (0, 1] are ignored.
func WithRefreshAt(fraction float64) ReuseOption {
	return func(c *reuseConfig) {
		if fraction > 0 && fraction <= 1 {
			c.fraction = fraction
		}
	}
}

// WithLogger makes Reuse log refreshes and failures (never a credential).
func WithLogger(l *slog.Logger) ReuseOption { return func(c *reuseConfig) { c.logger = l } }

// ReuseSource is the token cache Reuse returns.
type ReuseSource struct {
	src TokenSource
	cfg reuseConfig

	mu      sync.Mutex
	tok     *Token
	fetched time.Time
	flight  *flight // the refresh in progress, if any
}

type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

// Reuse caches src's token and hands it to every caller until it reaches
// the refresh point (80% of its lifetime by default), when the next caller
// fetches a new one. Concurrent callers wait for that one fetch (each as
// long as its own ctx allows) instead of each starting one. A token the
// server revoked early is dropped with Invalidate. If a refresh ahead of
// expiry fails, the old token, still valid, is returned.
func Reuse(src TokenSource, opts ...ReuseOption) *ReuseSource {
	r := &ReuseSource{src: src, cfg: reuseConfig{now: time.Now, fraction: 0.8}}
	for _, o := range opts {
		o(&r.cfg)
	}
	return r
}

// Token returns the cached token, or fetches a new one.
func (r *ReuseSource) Token(ctx context.Context) (*Token, error) {
	for {
		r.mu.Lock()
		now := r.cfg.now()
		if r.tok != nil && !r.due(now) {
			t := r.tok.clone()
			r.mu.Unlock()
			return t, nil
		}
		f := r.flight
		leader := f == nil
		if leader {
			f = &flight{done: make(chan struct{})}
			r.flight = f
		}
		old := r.tok
		r.mu.Unlock()

		if leader {
			r.refresh(ctx, f)
		} else {
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if f.err != nil {
			// The leader gave up because its own ctx ended; a waiter whose
			// ctx is alive tries again rather than inherit that.
			if !leader && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) && ctx.Err() == nil {
				continue
			}
			if old.Valid(r.cfg.now()) {
				return old.clone(), nil
			}
			return nil, f.err
		}
		return f.tok.clone(), nil
	}
}

// due reports whether the cached token has reached its refresh point.
func (r *ReuseSource) due(now time.Time) bool {
	if !r.tok.Valid(now) {
		return true
	}
	if r.tok.Expiry.IsZero() {
		return false
	}
	life := r.tok.Expiry.Sub(r.fetched)
	return !now.Before(r.fetched.Add(time.Duration(float64(life) * r.cfg.fraction)))
}

func (r *ReuseSource) refresh(ctx context.Context, f *flight) {
	start := r.cfg.now()
	tok, err := r.src.Token(ctx)
	if err == nil && tok == nil {
		err = errors.New("auth: token source returned no token and no error")
	}
	r.mu.Lock()
	if err == nil {
		r.tok, r.fetched = tok.clone(), start
	}
	r.flight = nil
	f.tok, f.err = tok, err
	r.mu.Unlock()
	close(f.done)
	if l := r.cfg.logger; l != nil {
		if err != nil {
			l.LogAttrs(ctx, slog.LevelWarn, "auth: token refresh failed", slog.String("error", err.Error()))
		} else {
			l.LogAttrs(ctx, slog.LevelDebug, "auth: token refreshed", slog.Any("token", tok))
		}
	}
}

// Invalidate drops the cached token, so that the next Token call fetches a
// new one. Call it when the server refuses a token before its expiry (a
// 401 after a password change, a revoked session); Transport does. When
// the wrapped source is itself an Invalidator (a Rotating, whose token
// lives in a shared store), it is told too, so that the fetch does not
// bring the refused token back.
func (r *ReuseSource) Invalidate() {
	r.mu.Lock()
	r.tok = nil
	r.mu.Unlock()
	if inv, ok := r.src.(Invalidator); ok {
		inv.Invalidate()
	}
}

// OAuth2 adapts r to an oauth2.TokenSource; see the OAuth2 function.
func (r *ReuseSource) OAuth2(ctx context.Context) oauth2.TokenSource { return OAuth2(ctx, r) }

// view shows the wrapped source by type (it may hold credentials) and
// whether a token is cached, with its expiry, never the token itself.
func (r *ReuseSource) view() view {
	attrs := []slog.Attr{typeAttr("source", r.src), slog.Float64("refresh_at", r.cfg.fraction)}
	r.mu.Lock()
	tok := r.tok
	r.mu.Unlock()
	attrs = append(attrs, slog.Bool("cached", tok != nil))
	if tok != nil && !tok.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("expiry", tok.Expiry))
	}
	return view{typ: "auth.ReuseSource", attrs: attrs}
}

// String describes r without any credential.
func (r *ReuseSource) String() string { return r.view().String() }

// GoString makes %#v as safe as %v.
func (r *ReuseSource) GoString() string { return r.String() }

// Format prints String for every verb, so that no verb or flag reaches the
// cached token or the wrapped source's credentials.
func (r *ReuseSource) Format(f fmt.State, _ rune) { r.view().format(f) }

// LogValue logs r without any credential.
func (r *ReuseSource) LogValue() slog.Value { return r.view().LogValue() }
