package llm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"zhizhi/agent/backoff"

	openai "github.com/sashabaranov/go-openai"
)

// Client is a Completer over go-openai for any OpenAI-compatible endpoint.
type Client struct {
	cfg    Config
	oc     *openai.Client
	sem    chan struct{}
	cache  Cache
	log    *slog.Logger
	format atomic.Value // Format currently used for JSON requests (auto mode steps down on rejection)
	sleep  func(ctx context.Context, d time.Duration) error
}

// Option changes a Client.
type Option func(*Client)

// WithCache replaces the in-memory cache (nil disables caching).
func WithCache(c Cache) Option { return func(cl *Client) { cl.cache = c } }

// WithHTTPClient sets the HTTP client used underneath (its Timeout should be 0: Config.Timeout applies).
func WithHTTPClient(h *http.Client) Option {
	return func(cl *Client) { cl.oc = newOpenAI(cl.cfg, h) }
}

// FromConfig returns a Completer for cfg, or a nil Completer and no error when no endpoint is configured
// (templates only). A half-filled config (base URL without model or the reverse) is an error.
func FromConfig(cfg Config, logger *slog.Logger, opts ...Option) (Completer, error) {
	if strings.TrimSpace(cfg.BaseURL) == "" && strings.TrimSpace(cfg.Model) == "" {
		return nil, nil
	}
	c, err := New(cfg, logger, opts...)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// New returns a Client; cfg must be Enabled (callers check Config.Enabled and use templates otherwise).
func New(cfg Config, logger *slog.Logger, opts ...Option) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		cfg:   cfg,
		oc:    newOpenAI(cfg, &http.Client{}),
		sem:   make(chan struct{}, cfg.Concurrency),
		log:   logger.With("component", "llm", "model", cfg.Model),
		sleep: backoff.Sleep,
	}
	if cfg.CacheSize > 0 {
		c.cache = NewMemoryCache(cfg.CacheSize)
	}
	start := cfg.Format
	if start == FormatAuto {
		start = FormatJSONSchema
	}
	c.format.Store(start)
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

func newOpenAI(cfg Config, h *http.Client) *openai.Client {
	oc := openai.DefaultConfig(cfg.APIKey)
	oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	oc.HTTPClient = &metaDoer{c: h}
	return openai.NewClientWithConfig(oc)
}

// Model returns the configured model name.
func (c *Client) Model() string { return c.cfg.Model }

// Format returns the format JSON requests currently use (after any fallback).
func (c *Client) Format() Format { return c.format.Load().(Format) }

// Complete sends req, retrying 429, 5xx and transport errors with jittered exponential backoff (honouring
// Retry-After), falling back json_schema → json_object → text when the server rejects the response format
// (auto mode only), and caching answers by prompt hash. An answer cut at the length limit is returned with
// ErrTruncated and not cached.
func (c *Client) Complete(ctx context.Context, req Request) (Response, error) {
	hash := PromptHash(c.cfg.Model, req)
	if c.cache != nil {
		if r, ok := c.cache.Get(hash); ok {
			r.Cached, r.Attempts = true, 0
			return r, nil
		}
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return Response{PromptHash: hash}, fmt.Errorf("llm: waiting for a slot: %w", ctx.Err())
	}
	defer func() { <-c.sem }()

	r, err := c.complete(ctx, req, hash, c.cfg.Format == FormatAuto)
	if err == nil && c.cache != nil {
		c.cache.Put(hash, r)
	}
	return r, err
}

func (c *Client) complete(ctx context.Context, req Request, hash string, fallback bool) (Response, error) {
	resp := Response{Model: c.cfg.Model, PromptHash: hash}
	retries := 0
	for {
		format := FormatText
		if req.JSON != nil {
			format = c.Format()
		}
		resp.Attempts++
		start := time.Now()
		out, meta, err := c.once(ctx, req, format)
		resp.Latency = time.Since(start)
		if err == nil {
			resp.Format = format
			if len(out.Choices) == 0 {
				return resp, fmt.Errorf("llm: no choices in answer: %w", ErrEmpty)
			}
			ch := out.Choices[0]
			resp.Content = ch.Message.Content
			resp.FinishReason = string(ch.FinishReason)
			if ch.FinishReason == openai.FinishReasonLength {
				return resp, fmt.Errorf("llm: finish_reason length after %d characters: %w", len([]rune(resp.Content)), ErrTruncated)
			}
			if strings.TrimSpace(resp.Content) == "" {
				return resp, fmt.Errorf("llm: empty content (finish_reason %q): %w", resp.FinishReason, ErrEmpty)
			}
			return resp, nil
		}
		err = classify(ctx, err, meta)
		c.log.Warn("llm attempt failed", "prompt_hash", hash[:12], "attempt", resp.Attempts, "status", meta.status, "format", format, "err", err)
		if errors.Is(err, ErrFormatUnsupported) && fallback && format != FormatText {
			next := FormatJSONObject
			if format == FormatJSONObject {
				next = FormatText
			}
			c.format.CompareAndSwap(format, next)
			c.log.Info("llm response format rejected, falling back", "from", format, "to", next)
			continue
		}
		if !retryable(err) || retries >= c.cfg.MaxRetries || ctx.Err() != nil {
			return resp, err
		}
		retries++
		d := c.backoff(retries, meta.retryAfter)
		if serr := c.sleep(ctx, d); serr != nil {
			return resp, fmt.Errorf("llm: waiting to retry: %w (last error: %w)", serr, err)
		}
	}
}

// once sends a single HTTP request with the per-attempt timeout.
func (c *Client) once(ctx context.Context, req Request, format Format) (openai.ChatCompletionResponse, *httpMeta, error) {
	meta := &httpMeta{}
	actx, cancel := context.WithTimeout(context.WithValue(ctx, metaKey{}, meta), c.cfg.Timeout)
	defer cancel()
	maxTokens := req.MaxTokens
	if maxTokens == 0 {
		maxTokens = c.cfg.MaxTokens
	}
	creq := openai.ChatCompletionRequest{
		Model:       c.cfg.Model,
		Temperature: math.SmallestNonzeroFloat32,
		MaxTokens:   maxTokens,
	}
	for _, m := range req.Messages {
		creq.Messages = append(creq.Messages, openai.ChatCompletionMessage{Role: m.Role, Content: m.Content})
	}
	if c.cfg.DisableThinking {
		creq.ChatTemplateKwargs = map[string]any{"enable_thinking": false}
	}
	if req.JSON != nil {
		switch format {
		case FormatJSONSchema:
			creq.ResponseFormat = &openai.ChatCompletionResponseFormat{
				Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
				JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
					Name: req.JSON.Name, Schema: req.JSON.Schema, Strict: true,
				},
			}
		case FormatJSONObject:
			creq.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
		}
	}
	out, err := c.oc.CreateChatCompletion(actx, creq)
	if err != nil && actx.Err() != nil && ctx.Err() == nil {
		meta.timedOut = true
	}
	return out, meta, err
}

// backoff returns the delay before retry n (1-based): base·2^(n-1) with 0.5–1.5× jitter, or Retry-After when
// the server sent one, capped at BackoffMax.
func (c *Client) backoff(n int, retryAfter time.Duration) time.Duration {
	d := c.cfg.BackoffBase << (n - 1)
	d = time.Duration(float64(d) * (0.5 + rand.Float64()))
	if retryAfter > 0 {
		d = retryAfter
	}
	return min(d, c.cfg.BackoffMax)
}

// httpMeta carries what go-openai's errors lose: the real status code and the Retry-After header.
type httpMeta struct {
	status     int
	retryAfter time.Duration
	timedOut   bool
}

type metaKey struct{}

type metaDoer struct{ c *http.Client }

func (d *metaDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.c.Do(req)
	if m, ok := req.Context().Value(metaKey{}).(*httpMeta); ok && resp != nil {
		m.status = resp.StatusCode
		m.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return resp, err
}

func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// classify maps a go-openai error to one of the package's sentinel errors, keeping the cause. go-openai
// reports {"error":{...}} as *APIError with a status, old vLLM and HTML pages as *RequestError, and
// {"error":"text"} as *APIError with status 0 — so the status recorded by metaDoer wins.
func classify(ctx context.Context, err error, meta *httpMeta) error {
	if ctx.Err() != nil {
		return fmt.Errorf("llm: %w", ctx.Err())
	}
	if meta.timedOut || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	status := meta.status
	msg := err.Error()
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		if status == 0 {
			status = apiErr.HTTPStatusCode
		}
		msg += " " + apiErr.Message
	case errors.As(err, &reqErr):
		if status == 0 {
			status = reqErr.HTTPStatusCode
		}
		msg += " " + string(reqErr.Body)
	}
	if status == 0 {
		return fmt.Errorf("%w: %w", ErrTransport, err)
	}
	low := strings.ToLower(msg)
	switch {
	case status == http.StatusTooManyRequests:
		return fmt.Errorf("status %d: %w: %w", status, ErrRateLimited, err)
	case status >= 500:
		return fmt.Errorf("status %d: %w: %w", status, ErrServer, err)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("status %d: %w: %w", status, ErrAuth, err)
	case (status == http.StatusBadRequest || status == http.StatusUnprocessableEntity) && mentionsFormat(low):
		return fmt.Errorf("status %d: %w: %w", status, ErrFormatUnsupported, err)
	case status == http.StatusNotFound:
		return fmt.Errorf("status %d: %w: %w", status, ErrNotFound, err)
	default:
		return fmt.Errorf("status %d: %w: %w", status, ErrBadRequest, err)
	}
}

func mentionsFormat(low string) bool {
	for _, w := range []string{"response_format", "response format", "json_schema", "json schema", "guided_json", "structured output", "json_object"} {
		if strings.Contains(low, w) {
			return true
		}
	}
	return false
}

func retryable(err error) bool {
	return errors.Is(err, ErrRateLimited) || errors.Is(err, ErrServer) || errors.Is(err, ErrTransport)
}
