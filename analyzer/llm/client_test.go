package llm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai/jsonschema"

	"zhizhi/analyzer/llm/llmtest"
)

type probe struct {
	OK   bool   `json:"ok"`
	Word string `json:"word"`
}

func jsonReq(text string) Request {
	schema, err := jsonschema.GenerateSchemaForType(probe{})
	if err != nil {
		panic(err)
	}
	return Request{
		Messages: []Message{{Role: RoleSystem, Content: "rules"}, {Role: RoleUser, Content: text}},
		JSON:     &JSONSpec{Name: "probe", Schema: schema},
	}
}

// newTestClient returns a client on srv whose backoff sleeps are recorded instead of slept.
func newTestClient(t *testing.T, srv *llmtest.Server, mod func(*Config)) (*Client, *[]time.Duration, *bytes.Buffer) {
	t.Helper()
	cfg := Config{BaseURL: srv.BaseURL(), Model: "qwen-test", APIKey: "sk-secret-key", Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	var logs bytes.Buffer
	c, err := New(cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	sleeps := &[]time.Duration{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*sleeps = append(*sleeps, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, sleeps, &logs
}

func TestCompleteGood(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script(llmtest.Reply{Content: `{"ok":true,"word":"x"}`}))
	c, sleeps, logs := newTestClient(t, srv, func(c *Config) { c.DisableThinking = true })
	r, err := c.Complete(context.Background(), jsonReq("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Content != `{"ok":true,"word":"x"}` || r.FinishReason != "stop" || r.Format != FormatJSONSchema || r.Attempts != 1 || r.Cached {
		t.Fatalf("response %+v", r)
	}
	if len(r.PromptHash) != 64 || r.PromptHash != PromptHash("qwen-test", jsonReq("hello")) {
		t.Fatalf("prompt hash %q", r.PromptHash)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || len(*sleeps) != 0 {
		t.Fatalf("%d requests, sleeps %v", len(reqs), *sleeps)
	}
	got := reqs[0]
	if got.Chat.Model != "qwen-test" {
		t.Errorf("model %q", got.Chat.Model)
	}
	if got.Chat.Temperature == nil || *got.Chat.Temperature <= 0 {
		t.Errorf("temperature missing or zero: %s", got.Body)
	}
	if got.Chat.FormatType() != "json_schema" || !strings.Contains(string(got.Chat.ResponseFormat.JSONSchema), `"strict":true`) ||
		!strings.Contains(string(got.Chat.ResponseFormat.JSONSchema), `"word"`) {
		t.Errorf("response_format %s", got.Body)
	}
	if got.Header.Get("Authorization") != "Bearer sk-secret-key" {
		t.Errorf("auth header %q", got.Header.Get("Authorization"))
	}
	if got.Chat.TemplateKwargs["enable_thinking"] != false {
		t.Errorf("chat_template_kwargs %v", got.Chat.TemplateKwargs)
	}
	if got.Chat.MaxTokens != 1024 {
		t.Errorf("max_tokens %d", got.Chat.MaxTokens)
	}
	if strings.Contains(logs.String(), "sk-secret-key") {
		t.Error("key logged")
	}

	// Same request again: served from the cache, no new HTTP request.
	r2, err := c.Complete(context.Background(), jsonReq("hello"))
	if err != nil || !r2.Cached || r2.Content != r.Content || len(srv.Requests()) != 1 {
		t.Fatalf("cache: %+v %v, %d requests", r2, err, len(srv.Requests()))
	}
}

func TestCompleteErrors(t *testing.T) {
	type tc struct {
		name      string
		replies   []llmtest.Reply
		wantErr   error // nil: success
		wantReqs  int
		wantSleep []time.Duration
	}
	cases := []tc{
		{name: "429 then success honours Retry-After",
			replies: []llmtest.Reply{
				{Status: 429, Header: map[string]string{"Retry-After": "3"}, Body: `{"error":{"message":"slow down","type":"rate_limit"}}`},
				{Content: "{}"}},
			wantReqs: 2, wantSleep: []time.Duration{3 * time.Second}},
		{name: "500 retried then fails",
			replies: []llmtest.Reply{{Status: 500, Body: `{"error":{"message":"boom","type":"server_error"}}`}},
			wantErr: ErrServer, wantReqs: 3},
		{name: "502 html page",
			replies:  []llmtest.Reply{{Status: 502, Body: "<html>Bad Gateway</html>", Header: map[string]string{"Content-Type": "text/html"}}, {Content: "{}"}},
			wantReqs: 2},
		{name: "error as plain string, status from the wire",
			replies: []llmtest.Reply{{Status: 503, Body: `{"error":"model is loading"}`}},
			wantErr: ErrServer, wantReqs: 3},
		{name: "old vLLM error object",
			replies: []llmtest.Reply{{Status: 400, Body: `{"object":"error","message":"bad things","type":"BadRequestError","code":400}`}},
			wantErr: ErrBadRequest, wantReqs: 1},
		{name: "401 not retried",
			replies: []llmtest.Reply{{Status: 401, Body: `{"error":{"message":"invalid api key","type":"auth"}}`}},
			wantErr: ErrAuth, wantReqs: 1},
		{name: "404 model",
			replies: []llmtest.Reply{{Status: 404, Body: `{"error":{"message":"The model qwen-test does not exist","type":"NotFoundError"}}`}},
			wantErr: ErrNotFound, wantReqs: 1},
		{name: "truncated",
			replies: []llmtest.Reply{{Content: `{"ok":tr`, FinishReason: "length"}},
			wantErr: ErrTruncated, wantReqs: 1},
		{name: "empty content",
			replies: []llmtest.Reply{{Content: "  "}},
			wantErr: ErrEmpty, wantReqs: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.New(t, llmtest.Script(tc.replies...))
			c, sleeps, _ := newTestClient(t, srv, nil)
			_, err := c.Complete(context.Background(), jsonReq("q"))
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if n := len(srv.Requests()); n != tc.wantReqs {
				t.Fatalf("%d requests, want %d", n, tc.wantReqs)
			}
			if tc.wantSleep != nil && fmt.Sprint(*sleeps) != fmt.Sprint(tc.wantSleep) {
				t.Fatalf("sleeps %v, want %v", *sleeps, tc.wantSleep)
			}
			if len(*sleeps) != tc.wantReqs-1 {
				t.Fatalf("sleeps %v for %d requests", *sleeps, tc.wantReqs)
			}
			if tc.wantErr != nil {
				// A failed answer is not cached: the next call goes to the server again.
				_, _ = c.Complete(context.Background(), jsonReq("q"))
				if n := len(srv.Requests()); n <= tc.wantReqs {
					t.Fatalf("failed answer was cached")
				}
			}
		})
	}
}

func TestBackoffJitterBounds(t *testing.T) {
	c := &Client{cfg: Config{BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second}}
	for n := 1; n <= 6; n++ {
		base := 100 * time.Millisecond << (n - 1)
		for i := 0; i < 50; i++ {
			d := c.backoff(n, 0)
			if d < base/2 && d < time.Second || d > base*3/2 || d > time.Second {
				t.Fatalf("retry %d: %v outside [%v, %v] capped at 1s", n, d, base/2, base*3/2)
			}
		}
	}
	if d := c.backoff(1, 5*time.Second); d != time.Second {
		t.Fatalf("Retry-After must be capped: %v", d)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 5, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "2": 2 * time.Second, "0.5": 500 * time.Millisecond, "junk": 0,
		now.Add(7 * time.Second).Format(http.TimeFormat): 7 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):      0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestTimeoutNotRetried(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script(llmtest.Reply{Hang: true}))
	c, _, _ := newTestClient(t, srv, func(c *Config) { c.Timeout = 200 * time.Millisecond })
	_, err := c.Complete(context.Background(), jsonReq("q"))
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout wrapping DeadlineExceeded", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("%d requests, want 1 (timeouts are not retried)", n)
	}
}

func TestCallerCancel(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script(llmtest.Reply{Hang: true}))
	c, _, _ := newTestClient(t, srv, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err := c.Complete(ctx, jsonReq("q"))
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestTransportErrorRetried(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script(llmtest.Reply{Content: "{}"}))
	base := srv.BaseURL()
	srv.Close()
	c, err := New(Config{BaseURL: base, Model: "m", Timeout: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sleeps int
	c.sleep = func(context.Context, time.Duration) error { sleeps++; return nil }
	_, err = c.Complete(context.Background(), jsonReq("q"))
	if !errors.Is(err, ErrTransport) || sleeps != 2 {
		t.Fatalf("err = %v, sleeps %d; want ErrTransport after 2 retries", err, sleeps)
	}
}

func TestFormatFallback(t *testing.T) {
	srv := llmtest.New(t, func(n int, r llmtest.Request) llmtest.Reply {
		switch r.Chat.FormatType() {
		case "json_schema":
			return llmtest.Reply{Status: 400, Body: `{"error":{"message":"response_format type json_schema is not supported","type":"invalid_request_error"}}`}
		case "json_object":
			return llmtest.Reply{Status: 400, Body: `{"object":"error","message":"unknown field: response_format.json_object","code":400}`}
		}
		return llmtest.Reply{Content: "```json\n{\"ok\":true}\n```"}
	})
	c, sleeps, _ := newTestClient(t, srv, nil)
	r, err := c.Complete(context.Background(), jsonReq("q"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Format != FormatText || r.Attempts != 3 || c.Format() != FormatText || len(*sleeps) != 0 {
		t.Fatalf("format %s attempts %d client format %s sleeps %v", r.Format, r.Attempts, c.Format(), *sleeps)
	}
	var got []string
	for _, q := range srv.Requests() {
		got = append(got, q.Chat.FormatType())
	}
	if fmt.Sprint(got) != "[json_schema json_object ]" {
		t.Fatalf("formats sent %q", got)
	}
	// The client remembers: the next request goes straight to plain text.
	if _, err := c.Complete(context.Background(), jsonReq("other")); err != nil {
		t.Fatal(err)
	}
	if q := srv.Requests(); len(q) != 4 || q[3].Chat.FormatType() != "" {
		t.Fatalf("fallback not remembered: %d requests", len(q))
	}
}

func TestExplicitFormatNoFallback(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script(llmtest.Reply{Status: 400, Body: `{"error":{"message":"response_format not supported"}}`}))
	c, _, _ := newTestClient(t, srv, func(c *Config) { c.Format = FormatJSONSchema })
	_, err := c.Complete(context.Background(), jsonReq("q"))
	if !errors.Is(err, ErrFormatUnsupported) || len(srv.Requests()) != 1 {
		t.Fatalf("err = %v, %d requests", err, len(srv.Requests()))
	}
}

func TestConcurrencyLimit(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script(llmtest.Reply{Content: "{}", Delay: 30 * time.Millisecond}))
	c, _, _ := newTestClient(t, srv, func(c *Config) { c.Concurrency = 2 })
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Complete(context.Background(), jsonReq(fmt.Sprint("q", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if m := srv.MaxInflight(); m > 2 || m < 1 {
		t.Fatalf("max in flight %d, limit 2", m)
	}
	if n := len(srv.Requests()); n != 6 {
		t.Fatalf("%d requests", n)
	}
}

func TestConfig(t *testing.T) {
	f := func(cfg Config, want error, wantSub string) {
		t.Helper()
		err := cfg.Validate()
		if want != nil && !errors.Is(err, want) || want == nil && wantSub == "" && err != nil ||
			wantSub != "" && (err == nil || !strings.Contains(err.Error(), wantSub)) {
			t.Errorf("Validate(%v) = %v", cfg, err)
		}
	}
	f(Config{}, ErrNotConfigured, "")
	f(Config{Model: "m"}, ErrNotConfigured, "base_url")
	f(Config{BaseURL: "http://h/v1"}, ErrNotConfigured, "model")
	f(Config{BaseURL: "ftp://h", Model: "m"}, nil, "base_url")
	f(Config{BaseURL: "http://h:8000/v1", Model: "m", Format: "xml"}, nil, "format")
	f(Config{BaseURL: "http://h:8000/v1", Model: "m"}, nil, "")
	if (Config{}).Enabled() {
		t.Error("empty config enabled")
	}
	cfg := Config{BaseURL: "http://h/v1", Model: "m", APIKey: "sk-secret"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "cfg", cfg)
	if s := fmt.Sprint(cfg) + fmt.Sprintf("%+v", cfg) + buf.String(); strings.Contains(s, "sk-secret") {
		t.Fatalf("key leaked: %s", s)
	}
	if _, err := New(Config{}, nil); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("New(empty) = %v", err)
	}
}

func TestMemoryCacheEvicts(t *testing.T) {
	c := NewMemoryCache(2)
	c.Put("a", Response{Content: "A"})
	c.Put("b", Response{Content: "B"})
	c.Get("a") // a is now most recent
	c.Put("c", Response{Content: "C"})
	if _, ok := c.Get("b"); ok {
		t.Fatal("b should be evicted")
	}
	if r, ok := c.Get("a"); !ok || r.Content != "A" || c.Len() != 2 {
		t.Fatal("a lost")
	}
}

func TestPromptHashDiffers(t *testing.T) {
	a := PromptHash("m", jsonReq("x"))
	for name, b := range map[string]string{
		"model":    PromptHash("n", jsonReq("x")),
		"messages": PromptHash("m", jsonReq("y")),
		"schema":   PromptHash("m", Request{Messages: jsonReq("x").Messages}),
	} {
		if a == b {
			t.Errorf("hash ignores %s", name)
		}
	}
	if a != PromptHash("m", jsonReq("x")) {
		t.Error("hash not stable")
	}
}

func TestFromConfig(t *testing.T) {
	c, err := FromConfig(Config{}, nil)
	if err != nil || c != nil {
		t.Fatalf("empty config: %v, %v (want nil Completer, templates only)", c, err)
	}
	if _, err := FromConfig(Config{BaseURL: "http://h/v1"}, nil); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("half config: %v", err)
	}
	c, err = FromConfig(Config{BaseURL: "http://h/v1", Model: "m"}, nil)
	if err != nil || c == nil {
		t.Fatalf("full config: %v", err)
	}
}
