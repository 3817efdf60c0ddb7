package llm

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"zhizhi/analyzer/llm/llmtest"
)

func TestCheck(t *testing.T) {
	good := `{"ok":true,"word":"zhizhi"}`
	cases := []struct {
		name       string
		models     []string
		handler    func(int, llmtest.Request) llmtest.Reply
		ok         bool
		listed     Support
		schema     Support
		object     Support
		recommend  Format
		lineSubstr string
	}{
		{name: "full support", models: []string{"other", "qwen-test"},
			handler: func(_ int, r llmtest.Request) llmtest.Reply {
				if r.Chat.FormatType() != "" {
					return llmtest.Reply{Content: good}
				}
				return llmtest.Reply{Content: "OK"}
			},
			ok: true, listed: Supported, schema: Supported, object: Unknown, recommend: FormatJSONSchema, lineSubstr: "json_schema works"},
		{name: "schema rejected, json_object works, model not listed", models: []string{"other"},
			handler: func(_ int, r llmtest.Request) llmtest.Reply {
				switch r.Chat.FormatType() {
				case "json_schema":
					return llmtest.Reply{Status: 400, Body: `{"error":{"message":"json_schema response_format is not supported"}}`}
				case "json_object":
					return llmtest.Reply{Content: "```json\n" + good + "\n```"}
				}
				return llmtest.Reply{Content: "OK"}
			},
			ok: true, listed: Unsupported, schema: Unsupported, object: Supported, recommend: FormatJSONObject, lineSubstr: "is not listed"},
		{name: "format ignored", models: nil,
			handler: func(int, llmtest.Request) llmtest.Reply { return llmtest.Reply{Content: "OK, here you go"} },
			ok:      true, listed: Unknown, schema: Unsupported, object: Unsupported, recommend: FormatText, lineSubstr: "did not follow"},
		{name: "bad key", models: []string{"qwen-test"},
			handler: func(int, llmtest.Request) llmtest.Reply {
				return llmtest.Reply{Status: 401, Body: `{"error":{"message":"bad key"}}`}
			},
			ok: false, listed: Supported, schema: Unknown, object: Unknown, lineSubstr: "API key was rejected"},
		{name: "hang", models: []string{"qwen-test"},
			handler: func(int, llmtest.Request) llmtest.Reply { return llmtest.Reply{Hang: true} },
			ok:      false, listed: Supported, schema: Unknown, object: Unknown, lineSubstr: "no answer within 200ms"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := llmtest.New(t, tc.handler)
			srv.Models = tc.models
			rep, err := Check(context.Background(), Config{BaseURL: srv.BaseURL(), Model: "qwen-test", APIKey: "sk-x", Timeout: 200 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			text := rep.String()
			if rep.OK != tc.ok || rep.ModelListed != tc.listed || rep.JSONSchema != tc.schema || rep.JSONObject != tc.object ||
				rep.Recommended != tc.recommend || !rep.Reachable && tc.ok {
				t.Fatalf("report %+v", rep)
			}
			if !strings.Contains(text, tc.lineSubstr) || strings.Contains(text, "sk-x") {
				t.Fatalf("lines:\n%s", text)
			}
		})
	}
}

func TestCheckUnreachableAndUnconfigured(t *testing.T) {
	srv := llmtest.New(t, llmtest.Script(llmtest.Reply{Content: "OK"}))
	base := srv.BaseURL()
	srv.Close()
	rep, err := Check(context.Background(), Config{BaseURL: base, Model: "m", Timeout: time.Second})
	if err != nil || rep.OK || rep.Reachable || !strings.Contains(rep.String(), "unreachable") {
		t.Fatalf("err %v report %+v", err, rep)
	}
	if _, err := Check(context.Background(), Config{}); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("Check(empty) = %v", err)
	}
}
