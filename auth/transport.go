package auth

import (
	"errors"
	"io"
	"net/http"
)

// Invalidator is a TokenSource that can drop a token the server refused
// before its expiry. *ReuseSource and *Rotating are Invalidators.
type Invalidator interface {
	Invalidate()
}

// Transport is an http.RoundTripper that authenticates each request with a
// token from Source and sends it through Base (http.DefaultTransport when
// nil). On a 401 it invalidates the token (when Source is an Invalidator),
// gets a new one and retries the request once, replaying its body through
// GetBody; a request with a body and no GetBody is not retried, and its 401
// is returned as is.
//
// Compose it with Reuse so that a token is fetched once, not per request:
//
//	client := &http.Client{Transport: &auth.Transport{Source: auth.Reuse(cfg.TokenSource())}}
type Transport struct {
	Source TokenSource
	Base   http.RoundTripper
}

// RoundTrip authorises req and sends it.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	closeBody := func() {
		if req.Body != nil {
			_ = req.Body.Close()
		}
	}
	if t.Source == nil {
		closeBody()
		return nil, errors.New("auth: Transport.Source is nil: set it to the token source of the CRM's flow")
	}
	ctx := req.Context()
	tok, err := t.Source.Token(ctx)
	if err != nil {
		closeBody()
		return nil, err
	}
	resp, err := t.base().RoundTrip(authorize(req, tok))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !replayable {
		return resp, nil
	}
	retry := req.Clone(ctx)
	if req.GetBody != nil && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		retry.Body = body
	}
	// Another request may have refreshed the token already; only a token
	// still the one refused is invalidated.
	fresh, err := t.Source.Token(ctx)
	if err == nil && fresh.AccessToken == tok.AccessToken {
		inv, ok := t.Source.(Invalidator)
		if !ok {
			closeRetry(retry)
			return resp, nil
		}
		inv.Invalidate()
		fresh, err = t.Source.Token(ctx)
	}
	if err != nil {
		closeRetry(retry)
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
		return nil, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	return t.base().RoundTrip(authorize(retry, fresh))
}

func closeRetry(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// authorize returns a copy of req with the Authorization header set; the
// caller's request is not modified, as RoundTripper requires.
func authorize(req *http.Request, tok *Token) *http.Request {
	r := req.Clone(req.Context())
	r.Body = req.Body
	r.Header.Set("Authorization", tok.Type()+" "+tok.AccessToken)
	return r
}
