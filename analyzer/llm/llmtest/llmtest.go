// Package llmtest provides a scripted fake OpenAI-compatible server that records every request, for tests of code that talks to an LLM.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Reply is one scripted answer to a chat completion request.
type Reply struct {
	Status       int               // 0 → 200
	Body         string            // raw body; when empty a chat completion with Content is built
	Header       map[string]string // extra response headers (e.g. Retry-After)
	Content      string
	FinishReason string        // "" → "stop"
	Hang         bool          // block until the client gives up (or 10 s)
	Delay        time.Duration // wait before answering
}

// Request is one recorded chat completion request.
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
	Chat   Chat
}

// Chat is the part of a chat completion request that tests assert on.
type Chat struct {
	Model          string          `json:"model"`
	Temperature    *float64        `json:"temperature"`
	MaxTokens      int             `json:"max_tokens"`
	Messages       []ChatMessage   `json:"messages"`
	ResponseFormat *ResponseFormat `json:"response_format"`
	TemplateKwargs map[string]any  `json:"chat_template_kwargs"`
}

// ChatMessage is one message of a recorded request.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ResponseFormat is the recorded response_format.
type ResponseFormat struct {
	Type       string          `json:"type"`
	JSONSchema json.RawMessage `json:"json_schema"`
}

// FormatType returns the response_format type, or "" when none was sent.
func (c Chat) FormatType() string {
	if c.ResponseFormat == nil {
		return ""
	}
	return c.ResponseFormat.Type
}

// Server is a fake OpenAI-compatible endpoint on loopback. Its base URL for go-openai is URL + "/v1".
type Server struct {
	*httptest.Server
	// Models is what GET /v1/models lists; nil → 404.
	Models []string

	mu          sync.Mutex
	handler     func(n int, r Request) Reply
	requests    []Request
	inflight    int
	maxInflight int
}

// New starts a server answering chat completions with handler(n, request), n counting from 0.
func New(t testing.TB, handler func(n int, r Request) Reply) *Server {
	s := &Server{handler: handler}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Script returns a handler that gives the replies in order and repeats the last one.
func Script(replies ...Reply) func(int, Request) Reply {
	return func(n int, _ Request) Reply {
		if n >= len(replies) {
			return replies[len(replies)-1]
		}
		return replies[n]
	}
}

// Answer is a reply whose content is the JSON {"text": text, "fact_ids": ids}.
func Answer(text string, ids ...string) Reply {
	if ids == nil {
		ids = []string{}
	}
	b, _ := json.Marshal(map[string]any{"text": text, "fact_ids": ids})
	return Reply{Content: string(b)}
}

// BaseURL is the URL to configure as the endpoint's base.
func (s *Server) BaseURL() string { return s.URL + "/v1" }

// Requests returns the chat completion requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// MaxInflight returns the largest number of chat requests handled at once.
func (s *Server) MaxInflight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInflight
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/models"):
		s.mu.Lock()
		models := s.Models
		s.mu.Unlock()
		if models == nil {
			http.Error(w, `{"error":{"message":"not found","type":"invalid_request_error"}}`, http.StatusNotFound)
			return
		}
		var data []map[string]any
		for _, m := range models {
			data = append(data, map[string]any{"id": m, "object": "model", "owned_by": "fake"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
		return
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/chat/completions"):
	default:
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	rec := Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	_ = json.Unmarshal(body, &rec.Chat)
	s.mu.Lock()
	n := len(s.requests)
	s.requests = append(s.requests, rec)
	s.inflight++
	s.maxInflight = max(s.maxInflight, s.inflight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()

	rep := s.handler(n, rec)
	if rep.Hang {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	}
	if rep.Delay > 0 {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(rep.Delay):
		}
	}
	for k, v := range rep.Header {
		w.Header().Set(k, v)
	}
	body = []byte(rep.Body)
	if rep.Body == "" {
		fr := rep.FinishReason
		if fr == "" {
			fr = "stop"
		}
		body, _ = json.Marshal(map[string]any{
			"id": fmt.Sprintf("chatcmpl-%d", n), "object": "chat.completion", "created": 1700000000, "model": rec.Chat.Model,
			"choices": []map[string]any{{"index": 0, "finish_reason": fr,
				"message": map[string]any{"role": "assistant", "content": rep.Content}}},
			"usage": map[string]int{"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
		})
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
