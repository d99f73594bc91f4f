// Package httpx builds the one HTTP client every crmkit adapter uses, so that
// retries, rate limiting, tracing, the size cap, the TLS policy and the
// redaction of secrets are written once and behave the same for Salesforce,
// HubSpot and Dynamics 365. It is plumbing: adapters import it, users do not.
//
// # The chain
//
// [Client.Do] runs a retry loop (hashicorp/go-retryablehttp, steered by a
// crm/retry Policy) around an *http.Client whose transport is, outermost
// first:
//
//	span     one OpenTelemetry client span per HTTP attempt, "HTTP GET", with
//	         crm.system, crm.operation, crm.object, http.request.method,
//	         url.path (never the query), server.address,
//	         http.response.status_code, crm.request_id and
//	         crm.quota.remaining; error status on 400 and above or a failure
//	size cap a body over Config.MaxResponseBytes fails with
//	         ErrResponseTooLarge (at once when Content-Length says so)
//	limiter  ratelimit.Limiter.Wait on the request's lane before sending;
//	         after the response, Observe(lane, Config.Observe(resp)), and a
//	         Pause of the lane for a 429's or 503's Retry-After
//	Base     the auth layer's transport, over NewTransport's TLS policy
//
// Each attempt passes through the whole chain, so a retry waits for the
// limiter, is traced, and carries fresh credentials.
//
// # Building an adapter's client
//
// An adapter builds one Client when its own client is built, from its
// options, and keeps it:
//
//	hc, err := httpx.New(httpx.Config{
//		CRM:              "salesforce",
//		Retry:            retry.New(),
//		Limiter:          ratelimit.New(ratelimit.WithDailyGuard(0.9)),
//		Observe:          observeLimitInfo, // reads Sforce-Limit-Info
//		CheckResponse:    checkResponse,    // parses [{"errorCode":...,"message":...}]
//		RequestIDHeaders: []string{"Sforce-Call-Id"},
//		Base:             authTransport,    // the auth layer, over httpx.NewTransport(nil)
//		TracerProvider:   opts.TracerProvider,
//		Logger:           opts.Logger,
//	})
//
// and sends each request with Do, tagging its context with the operation:
//
//	ctx = httpx.WithOperation(ctx, "query", "Contact")
//	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
//	resp, err := hc.Do(req) // err is a *crm.Error, or wraps ctx.Err()
//	if err != nil {
//		return err
//	}
//	defer resp.Body.Close()
//
// # Errors
//
// A response of 400 or above becomes a *crm.Error built by
// Config.CheckResponse (or [DefaultCheckResponse]) from the status and the
// body, then completed with the status, the CRM's request id, Retry-After and
// the operation and object. A failure to get any response is a *crm.Error of
// KindUnavailable; the limiter's daily guard gives KindQuotaExhausted; a body
// over the cap gives KindInvalidRequest wrapping [ErrResponseTooLarge]. When
// the caller's context ends, the error wraps context.Canceled or
// context.DeadlineExceeded and is not a *crm.Error, since the caller, not the
// CRM, decided.
//
// # Retries
//
// A failed attempt is retried when the Policy's Decide says so: only for
// idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE; a request whose
// context is marked with retry.MarkIdempotent, such as an upsert by external
// id; or one that carries an Idempotency-Key header), only for retryable
// failures, and after the longer of the backoff and the CRM's Retry-After.
// The request body is replayed on each attempt. Certificate and TLS version
// failures are never retried.
//
// # Secrets
//
// Nothing this package produces holds a query string, user info, a token or a
// password: URLs in errors are cut to scheme, host and path, and every quoted
// body and error text passes through [Redact]. [Client.HTTPClient] returns
// net/http's own errors, which hold the URL; pass them through [RedactError].
// Connections use [TLSConfig]: TLS 1.2 or newer, certificates always verified.
package httpx
