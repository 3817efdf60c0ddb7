package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sashabaranov/go-openai/jsonschema"
)

// Support is the outcome of one capability probe.
type Support string

// Probe outcomes.
const (
	Supported   Support = "supported"
	Unsupported Support = "unsupported"
	Unknown     Support = "unknown"
)

// CheckReport tells an operator whether an endpoint works, in fields and in human-readable Lines.
type CheckReport struct {
	BaseURL           string
	Model             string
	Reachable         bool     // the server answered HTTP at all
	Models            []string // from GET /models, when the server lists them
	ModelListed       Support  // whether Model is among Models (Unknown when listing failed)
	CompletionOK      bool     // a tiny chat completion succeeded
	CompletionLatency time.Duration
	JSONSchema        Support // response_format json_schema accepted and honoured
	JSONObject        Support // response_format json_object accepted (probed when json_schema is not)
	Recommended       Format  // what to put in config
	OK                bool    // the endpoint can be used
	Lines             []string
}

// String joins the report's lines.
func (r CheckReport) String() string { return strings.Join(r.Lines, "\n") }

type checkProbe struct {
	OK   bool   `json:"ok"`
	Word string `json:"word"`
}

// Check probes the endpoint in cfg: it lists models, sends a tiny completion, and tests JSON-schema and
// JSON-object output, without retries and with cfg.Timeout (default 60s) per request. Endpoint failures are
// reported in the CheckReport (OK false); the error is only for an unusable configuration.
func Check(ctx context.Context, cfg Config) (CheckReport, error) {
	rep := CheckReport{BaseURL: cfg.BaseURL, Model: cfg.Model, ModelListed: Unknown, JSONSchema: Unknown, JSONObject: Unknown}
	if err := cfg.Validate(); err != nil {
		return rep, err
	}
	cfg.MaxRetries, cfg.CacheSize, cfg.Format = -1, -1, FormatJSONSchema
	c, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return rep, err
	}
	cfg = c.cfg
	line := func(format string, a ...any) { rep.Lines = append(rep.Lines, fmt.Sprintf(format, a...)) }
	key := "no API key"
	if cfg.APIKey != "" {
		key = "API key set"
	}
	line("endpoint %s, model %q, %s, timeout %s", cfg.BaseURL, cfg.Model, key, cfg.Timeout)

	// 1. Models.
	lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	meta := &httpMeta{}
	start := time.Now()
	list, err := c.oc.ListModels(context.WithValue(lctx, metaKey{}, meta))
	if err != nil {
		err = classify(lctx, err, meta)
	}
	cancel()
	if err == nil {
		rep.Reachable = true
		for _, m := range list.Models {
			rep.Models = append(rep.Models, m.ID)
		}
		if slices.Contains(rep.Models, cfg.Model) {
			rep.ModelListed = Supported
			line("OK   GET /models answered in %s: %d model(s); %q is among them", round(time.Since(start)), len(rep.Models), cfg.Model)
		} else {
			rep.ModelListed = Unsupported
			line("FAIL GET /models answered in %s but %q is not listed; available: %s", round(time.Since(start)), cfg.Model, strings.Join(rep.Models, ", "))
		}
	} else {
		if !errors.Is(err, ErrTransport) && !errors.Is(err, ErrTimeout) && ctx.Err() == nil {
			rep.Reachable = true
		}
		line("WARN GET /models failed: %v (some servers do not list models; continuing)", err)
	}

	// 2. A tiny completion.
	tiny := Request{Messages: []Message{{Role: RoleUser, Content: "Reply with the single word OK."}}, MaxTokens: 64}
	r, err := c.complete(ctx, tiny, PromptHash(cfg.Model, tiny), false)
	switch {
	case err == nil || errors.Is(err, ErrTruncated):
		rep.Reachable, rep.CompletionOK, rep.CompletionLatency = true, true, r.Latency
		line("OK   chat completion answered in %s: %q", round(r.Latency), shorten(r.Content, 60))
	default:
		if !errors.Is(err, ErrTransport) && !errors.Is(err, ErrTimeout) {
			rep.Reachable = true
		}
		switch {
		case errors.Is(err, ErrAuth):
			line("FAIL chat completion: the API key was rejected: %v", err)
		case errors.Is(err, ErrNotFound):
			line("FAIL chat completion: model %q or the /chat/completions path was not found (base URL usually ends in /v1): %v", cfg.Model, err)
		case errors.Is(err, ErrTimeout):
			line("FAIL chat completion: no answer within %s: %v", cfg.Timeout, err)
		case errors.Is(err, ErrTransport):
			line("FAIL chat completion: endpoint unreachable: %v", err)
		default:
			line("FAIL chat completion: %v", err)
		}
		line("RESULT not usable: zhizhi will write all texts from templates")
		return rep, nil
	}

	// 3. JSON output.
	schema, err := jsonschema.GenerateSchemaForType(checkProbe{})
	if err != nil {
		return rep, fmt.Errorf("llm check: schema: %w", err)
	}
	probe := Request{
		Messages: []Message{{Role: RoleUser, Content: `Return the JSON object {"ok": true, "word": "zhizhi"} and nothing else.`}},
		JSON:     &JSONSpec{Name: "check", Schema: schema}, MaxTokens: 256,
	}
	rep.JSONSchema = probeFormat(ctx, c, probe, FormatJSONSchema, line)
	if rep.JSONSchema != Supported {
		rep.JSONObject = probeFormat(ctx, c, probe, FormatJSONObject, line)
	}
	switch {
	case rep.JSONSchema == Supported:
		rep.Recommended = FormatJSONSchema
	case rep.JSONObject == Supported:
		rep.Recommended = FormatJSONObject
	default:
		rep.Recommended = FormatText
	}
	rep.OK = rep.CompletionOK
	line("RESULT usable; format: auto (this server: %s). Every model answer is still checked against the facts and replaced by the template when it fails.", rep.Recommended)
	return rep, nil
}

func probeFormat(ctx context.Context, c *Client, probe Request, f Format, line func(string, ...any)) Support {
	c.format.Store(f)
	r, err := c.complete(ctx, probe, PromptHash(c.cfg.Model, probe), false)
	switch {
	case errors.Is(err, ErrFormatUnsupported):
		line("NO   response_format %s rejected by the server: %v", f, err)
		return Unsupported
	case err != nil:
		line("?    response_format %s could not be tested: %v", f, err)
		return Unknown
	}
	var p checkProbe
	body := strings.TrimSpace(r.Content)
	if i, j := strings.Index(body, "{"), strings.LastIndex(body, "}"); i >= 0 && j > i {
		body = body[i : j+1]
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil || !p.OK || p.Word != "zhizhi" {
		line("NO   response_format %s accepted but the answer did not follow it: %q", f, shorten(r.Content, 80))
		return Unsupported
	}
	line("OK   response_format %s works (%s)", f, round(r.Latency))
	return Supported
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func shorten(s string, n int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return string(r)
}
