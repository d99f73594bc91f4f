package auth

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Token is an access token and what came with it from the token endpoint.
// Its String, Format, GoString, LogValue and MarshalJSON methods hide every
// credential, so a Token (or a *Token) printed with any fmt verb, logged
// with slog or encoded as JSON shows only its type, expiry, instance URL,
// scope and the names of its extra fields.
type Token struct {
	// AccessToken is the credential sent in the Authorization header.
	AccessToken string
	// TokenType is the scheme, "Bearer" when the server says nothing else.
	TokenType string
	// RefreshToken, when the server issued one, gets a new access token
	// later. Rotating servers issue a new one on every refresh.
	RefreshToken string
	// Expiry is when the access token stops working; zero means the server
	// did not say (Salesforce never does), and the token is used until a
	// 401 invalidates it.
	Expiry time.Time
	// InstanceURL is Salesforce's instance_url: the host the adapter must
	// call with this token.
	InstanceURL string
	// Scope is the granted scope, when the server names it.
	Scope string
	// Extra holds the token response's other fields (HubSpot's hub_id,
	// Salesforce's id and signature, ...). Values may be sensitive: they
	// are never printed.
	Extra map[string]any
}

// Type returns the scheme for the Authorization header: TokenType with
// "bearer" in any case normalised to "Bearer".
func (t *Token) Type() string {
	if t == nil || t.TokenType == "" || strings.EqualFold(t.TokenType, "bearer") {
		return "Bearer"
	}
	return t.TokenType
}

// Valid reports whether t has an access token not yet expired at now.
func (t *Token) Valid(now time.Time) bool {
	return t != nil && t.AccessToken != "" && (t.Expiry.IsZero() || now.Before(t.Expiry))
}

func (t Token) view() view {
	attrs := []slog.Attr{slog.String("type", t.Type()), hidden("access_token", t.AccessToken)}
	if t.RefreshToken != "" {
		attrs = append(attrs, hidden("refresh_token", t.RefreshToken))
	}
	if !t.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("expiry", t.Expiry))
	}
	if t.InstanceURL != "" {
		attrs = append(attrs, urlAttr("instance_url", t.InstanceURL))
	}
	if t.Scope != "" {
		attrs = append(attrs, slog.String("scope", t.Scope))
	}
	if len(t.Extra) > 0 {
		attrs = append(attrs, keysAttr("extra", t.Extra))
	}
	return view{typ: "auth.Token", attrs: attrs}
}

// String describes t without any credential: its type, expiry, instance
// URL, scope and the names of its extra fields. A nil *Token prints as
// <nil>.
func (t Token) String() string { return t.view().String() }

// GoString makes %#v as safe as %v.
func (t Token) GoString() string { return t.String() }

// Format prints String for every verb, so that no verb or flag reaches the
// credentials.
func (t Token) Format(f fmt.State, _ rune) { t.view().format(f) }

// LogValue makes slog log t without credentials, and a nil *Token as
// <nil>. (A Token value logs through Format or MarshalJSON, just as
// safely; the pointer receiver spares slog a panic on a nil *Token.)
func (t *Token) LogValue() slog.Value {
	if t == nil {
		return slog.StringValue("<nil>")
	}
	return t.view().LogValue()
}

// MarshalJSON encodes what String shows, without credentials, so that a
// Token logged or returned as JSON reveals nothing. To keep a token, keep
// its fields in a type of your own, or let Rotating keep it in a
// SecretStore.
func (t Token) MarshalJSON() ([]byte, error) { return t.view().json() }

func redacted(s string) string {
	if s == "" {
		return "(none)"
	}
	return "[REDACTED]"
}

// clone returns a copy of t that a caller may change without touching a
// cached token.
func (t *Token) clone() *Token {
	if t == nil {
		return nil
	}
	c := *t
	c.Extra = maps.Clone(t.Extra)
	return &c
}

// TokenSource supplies access tokens. Unlike oauth2.TokenSource its Token
// takes the caller's context, so a token fetch is cancelled with the call
// that needed it and never outlives a context captured at construction.
type TokenSource interface {
	Token(ctx context.Context) (*Token, error)
}

// TokenSourceFunc adapts a function to TokenSource.
type TokenSourceFunc func(ctx context.Context) (*Token, error)

// Token calls f.
func (f TokenSourceFunc) Token(ctx context.Context) (*Token, error) { return f(ctx) }

// Static returns a source that always returns the same token: a HubSpot
// private-app token, a Salesforce session id, a token a test made. It never
// expires; a 401 with it is final.
func Static(accessToken string) TokenSource {
	return staticSource{tok: Token{AccessToken: accessToken, TokenType: "Bearer"}}
}

type staticSource struct{ tok Token }

func (s staticSource) Token(context.Context) (*Token, error) {
	if s.tok.AccessToken == "" {
		return nil, &RetrieveError{Flow: "static token", Hint: "set the access token (for HubSpot, the private app's token)", unauthorized: true}
	}
	return s.tok.clone(), nil
}

func (s staticSource) view() view {
	return view{typ: "auth.Static", attrs: []slog.Attr{hidden("access_token", s.tok.AccessToken)}}
}
func (s staticSource) String() string             { return s.view().String() }
func (s staticSource) GoString() string           { return s.String() }
func (s staticSource) Format(f fmt.State, _ rune) { s.view().format(f) }
func (s staticSource) LogValue() slog.Value       { return s.view().LogValue() }

// FromOAuth2 adapts an oauth2.TokenSource (from golang.org/x/oauth2 or a
// library built on it) to TokenSource. The oauth2 source cannot see ctx:
// a fetch it starts runs under the context it was built with, so FromOAuth2
// checks ctx before the call and after it.
func FromOAuth2(src oauth2.TokenSource) TokenSource {
	return TokenSourceFunc(func(ctx context.Context) (*Token, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ot, err := src.Token()
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := &Token{AccessToken: ot.AccessToken, TokenType: ot.TokenType, RefreshToken: ot.RefreshToken, Expiry: ot.Expiry}
		if iu, ok := ot.Extra("instance_url").(string); ok {
			t.InstanceURL = iu
		}
		if sc, ok := ot.Extra("scope").(string); ok {
			t.Scope = sc
		}
		return t, nil
	})
}

// OAuth2 adapts src to an oauth2.TokenSource for libraries that want one.
// Every Token call runs under ctx, so ctx should live as long as the
// returned source is used (an application's lifetime context, not a
// request's).
func OAuth2(ctx context.Context, src TokenSource) oauth2.TokenSource {
	return oauth2Adapter{ctx: ctx, src: src}
}

type oauth2Adapter struct {
	ctx context.Context //nolint:containedctx // oauth2.TokenSource has no ctx; see OAuth2.
	src TokenSource
}

// The adapter's source may hold a credential (a Static one does); it is
// shown only by type.
func (a oauth2Adapter) view() view {
	return view{typ: "auth.OAuth2", attrs: []slog.Attr{typeAttr("source", a.src)}}
}
func (a oauth2Adapter) String() string             { return a.view().String() }
func (a oauth2Adapter) GoString() string           { return a.String() }
func (a oauth2Adapter) Format(f fmt.State, _ rune) { a.view().format(f) }
func (a oauth2Adapter) LogValue() slog.Value       { return a.view().LogValue() }

func (a oauth2Adapter) Token() (*oauth2.Token, error) {
	t, err := a.src.Token(a.ctx)
	if err != nil {
		return nil, err
	}
	ot := &oauth2.Token{AccessToken: t.AccessToken, TokenType: t.Type(), RefreshToken: t.RefreshToken, Expiry: t.Expiry}
	extra := map[string]any{}
	maps.Copy(extra, t.Extra)
	if t.InstanceURL != "" {
		extra["instance_url"] = t.InstanceURL
	}
	return ot.WithExtra(extra), nil
}
