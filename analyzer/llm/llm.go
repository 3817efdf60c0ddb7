// Package llm talks to any OpenAI-compatible chat endpoint behind a small Completer interface, with timeouts, bounded retries, a concurrency limit, a prompt-hash cache and JSON-output negotiation.
package llm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Completer returns one chat completion. The analyzer owns this interface; *Client implements it over
// go-openai and tests may substitute their own.
type Completer interface {
	Complete(ctx context.Context, req Request) (Response, error)
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
}

// Roles.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// JSONSpec asks for a JSON answer that follows Schema (a JSON Schema document, e.g. a
// *jsonschema.Definition from go-openai's jsonschema.GenerateSchemaForType).
type JSONSpec struct {
	Name   string
	Schema json.Marshaler
}

// Request is one completion request. Temperature is always the smallest non-zero value (deterministic output;
// go-openai drops an explicit 0).
type Request struct {
	Messages  []Message
	JSON      *JSONSpec // nil: plain text
	MaxTokens int       // 0: the Client's default
}

// Format is the response format a request was sent with.
type Format string

// Response formats, from most to least structured.
const (
	FormatAuto       Format = "auto" // config only: try json_schema, fall back on rejection
	FormatJSONSchema Format = "json_schema"
	FormatJSONObject Format = "json_object"
	FormatText       Format = "text"
)

// Response is a completion that finished normally.
type Response struct {
	Content      string
	FinishReason string
	Model        string // model name as configured (servers sometimes echo a path instead)
	PromptHash   string
	Format       Format
	Attempts     int  // HTTP attempts made, including retries and format fallbacks; 0 on a cache hit
	Cached       bool // served from the cache
	Latency      time.Duration
}

// Errors, to be tested with errors.Is. A returned error wraps one of these and the underlying cause.
var (
	ErrNotConfigured     = errors.New("llm not configured")
	ErrTimeout           = errors.New("llm request timed out")
	ErrRateLimited       = errors.New("llm rate limited")
	ErrServer            = errors.New("llm server error")
	ErrTransport         = errors.New("llm endpoint unreachable")
	ErrAuth              = errors.New("llm key rejected")
	ErrNotFound          = errors.New("llm model or endpoint not found")
	ErrBadRequest        = errors.New("llm request rejected")
	ErrFormatUnsupported = errors.New("llm response format unsupported")
	ErrTruncated         = errors.New("llm answer truncated")
	ErrEmpty             = errors.New("llm answer empty")
)

// Config selects and tunes the endpoint. An empty BaseURL or Model means "no LLM": callers use templates.
type Config struct {
	BaseURL     string        `yaml:"base_url" json:"base_url"`       // e.g. http://10.1.2.3:8000/v1 (vLLM), http://host:11434/v1 (Ollama)
	Model       string        `yaml:"model" json:"model"`             // e.g. Qwen2.5-32B-Instruct
	APIKey      string        `yaml:"api_key" json:"-"`               // never logged
	Timeout     time.Duration `yaml:"timeout" json:"timeout"`         // per HTTP attempt; default 60s
	MaxRetries  int           `yaml:"max_retries" json:"max_retries"` // on 429/5xx/transport errors; 0 → 2, negative → none
	Concurrency int           `yaml:"concurrency" json:"concurrency"` // requests in flight; default 2
	Format      Format        `yaml:"format" json:"format"`           // auto (default), json_schema, json_object, text
	MaxTokens   int           `yaml:"max_tokens" json:"max_tokens"`   // default 1024
	// DisableThinking sends chat_template_kwargs {"enable_thinking": false} (Qwen3 on vLLM/SGLang).
	DisableThinking bool          `yaml:"disable_thinking" json:"disable_thinking"`
	BackoffBase     time.Duration `yaml:"backoff_base" json:"backoff_base"` // first retry delay before jitter; default 500ms
	BackoffMax      time.Duration `yaml:"backoff_max" json:"backoff_max"`   // cap on one delay, Retry-After included; default 30s
	CacheSize       int           `yaml:"cache_size" json:"cache_size"`     // in-memory entries; 0 → 256, negative → no cache
}

// Enabled reports whether an endpoint is configured.
func (c Config) Enabled() bool {
	return strings.TrimSpace(c.BaseURL) != "" && strings.TrimSpace(c.Model) != ""
}

// Validate checks the fields; it returns ErrNotConfigured when no endpoint is set.
func (c Config) Validate() error {
	if !c.Enabled() {
		if c.BaseURL == "" && c.Model == "" {
			return ErrNotConfigured
		}
		if c.BaseURL == "" {
			return fmt.Errorf("llm config: base_url is empty but model %q is set: %w", c.Model, ErrNotConfigured)
		}
		return fmt.Errorf("llm config: model is empty: %w", ErrNotConfigured)
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("llm config: base_url %q: want http(s)://host[:port]/v1", c.BaseURL)
	}
	switch c.Format {
	case "", FormatAuto, FormatJSONSchema, FormatJSONObject, FormatText:
	default:
		return fmt.Errorf("llm config: format %q: want auto, json_schema, json_object or text", c.Format)
	}
	if c.Timeout < 0 || c.Concurrency < 0 || c.MaxTokens < 0 {
		return fmt.Errorf("llm config: timeout, concurrency and max_tokens must not be negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = 60 * time.Second
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 2
	} else if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	if c.Concurrency == 0 {
		c.Concurrency = 2
	}
	if c.Format == "" {
		c.Format = FormatAuto
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = 1024
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = 500 * time.Millisecond
	}
	if c.BackoffMax == 0 {
		c.BackoffMax = 30 * time.Second
	}
	if c.CacheSize == 0 {
		c.CacheSize = 256
	}
	return c
}

// LogValue keeps the key out of logs.
func (c Config) LogValue() slog.Value {
	key := "unset"
	if c.APIKey != "" {
		key = "set"
	}
	return slog.GroupValue(slog.String("base_url", c.BaseURL), slog.String("model", c.Model),
		slog.String("api_key", key), slog.Duration("timeout", c.Timeout), slog.String("format", string(c.Format)))
}

// String keeps the key out of %v.
func (c Config) String() string {
	return fmt.Sprintf("llm{base_url=%s model=%s api_key=%s}", c.BaseURL, c.Model, map[bool]string{true: "set", false: "unset"}[c.APIKey != ""])
}

// PromptHash identifies a request for caching and audit: sha256 over the model, the messages and the JSON
// schema (not over the format actually used, which depends on what the server accepts).
func PromptHash(model string, req Request) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	_ = enc.Encode(model)
	_ = enc.Encode(req.Messages)
	if req.JSON != nil {
		_ = enc.Encode(req.JSON.Name)
		if req.JSON.Schema != nil {
			b, err := req.JSON.Schema.MarshalJSON()
			if err == nil {
				h.Write(b)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
