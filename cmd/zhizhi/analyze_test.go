package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"zhizhi/analyzer/llm/llmtest"
	"zhizhi/analyzer/report/reporttest"
)

func TestLLMCheckCommand(t *testing.T) {
	good := llmtest.New(t, func(int, llmtest.Request) llmtest.Reply { return llmtest.Answer("好", "f1") })
	good.Models = []string{"qwen-test"}
	out, err := run(t, "llm", "check", "--llm-base-url", good.BaseURL(), "--llm-model", "qwen-test", "--llm-timeout", "5s")
	if err != nil || !strings.Contains(out, "qwen-test") {
		t.Errorf("working endpoint: %v\n%s", err, out)
	}
	if len(good.Requests()) == 0 {
		t.Errorf("check sent no completion")
	}

	bad := llmtest.New(t, func(int, llmtest.Request) llmtest.Reply { return llmtest.Reply{Status: 500, Body: `{"error":"boom"}`} })
	out, err = run(t, "llm", "check", "--llm-base-url", bad.BaseURL(), "--llm-model", "qwen-test", "--llm-timeout", "5s")
	if err == nil || !strings.Contains(err.Error(), "not usable") || out == "" {
		t.Errorf("failing endpoint: err %v, output %q; want the report and an error", err, out)
	}

	// The endpoint also comes from the environment; the key from a 0600 file only.
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("sk-secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envLLMBaseURL, good.BaseURL())
	t.Setenv(envLLMModel, "qwen-test")
	t.Setenv(envLLMKeyFile, key)
	if _, err := run(t, "llm", "check"); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Errorf("world-readable key file: %v, want an error asking for 0600", err)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	n := len(good.Requests())
	out, err = run(t, "llm", "check")
	if err != nil || strings.Contains(out, "sk-secret") {
		t.Errorf("env config: %v\n%s", err, out)
	}
	reqs := good.Requests()
	if len(reqs) <= n || reqs[len(reqs)-1].Header.Get("Authorization") != "Bearer sk-secret" {
		t.Errorf("the key from the file was not sent")
	}
	t.Setenv(envLLMBaseURL, "")
	if _, err := run(t, "llm", "check"); err == nil || !strings.Contains(err.Error(), "no LLM endpoint") {
		t.Errorf("nothing configured: %v", err)
	}
}

func TestAnalyzeCommands(t *testing.T) {
	analyzeClock = func() time.Time { return reporttest.Now }
	t.Cleanup(func() { analyzeClock = time.Now })
	dir := t.TempDir()
	fx := reporttest.SeedAt(t, filepath.Join(dir, dbFile))

	out, err := run(t, "findings", "--data", dir, "--kind", "comatose")
	if err != nil || !strings.Contains(out, reporttest.IdleSystem) || strings.Contains(out, reporttest.OverSystem) {
		t.Errorf("findings: %v\n%s", err, out)
	}
	if _, err := run(t, "findings", "--data", dir, "--kind", "bogus"); err == nil {
		t.Errorf("bogus kind accepted")
	}

	if _, err := run(t, "exceptions", "add", "--data", dir, "--type", "seasonal", "--system", reporttest.AnnualSystem,
		"--owner", "王五", "--reason", "年报", "--expires", "2027-03-01"); err == nil || !strings.Contains(strings.ToLower(err.Error()), "months") {
		t.Errorf("seasonal without months: %v, want an error naming months", err)
	}
	out, err = run(t, "exceptions", "add", "--data", dir, "--type", "dr-standby", "--host-id",
		itoa(fx.Hosts[reporttest.StandbySystem]), "--owner", "张三", "--reason", "同城灾备", "--expires", "2027-05-01")
	if err != nil || !strings.Contains(out, "exception 1 added") {
		t.Fatalf("add: %v %s", err, out)
	}
	out, err = run(t, "exceptions", "list", "--data", dir)
	if err != nil || !strings.Contains(out, "dr-standby") || !strings.Contains(out, "live") {
		t.Errorf("list: %v\n%s", err, out)
	}
	out, _ = run(t, "findings", "--data", dir, "--department", reporttest.StandbyDept)
	if !strings.Contains(out, "excepted") {
		t.Errorf("standby finding not excepted:\n%s", out)
	}

	file := filepath.Join(dir, "r.md")
	if _, err := run(t, "report", "--data", dir, "--month", "2026-11", "--format", "md", "--out", file); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(file)
	if err != nil || !strings.HasPrefix(string(md), "# 全区2026年11月") || !strings.Contains(string(md), "已登记灾备例外") {
		t.Errorf("report: %v\n%s", err, md)
	}
	out, err = run(t, "report", "--data", dir, "--month", "2026-11", "--department", reporttest.OverDept, "--format", "html", "--lang", "en")
	if err != nil || !strings.Contains(out, "<h1>"+reporttest.OverDept+": monthly report") {
		t.Errorf("department html: %v\n%.300s", err, out)
	}
	if _, err := run(t, "report", "--data", dir, "--month", "2026-11", "--format", "pdf"); err == nil {
		t.Errorf("pdf accepted")
	}

	if out, err := run(t, "exceptions", "delete", "--data", dir, "1"); err != nil || !strings.Contains(out, "deleted") {
		t.Errorf("delete: %v %s", err, out)
	}
	if _, err := run(t, "exceptions", "delete", "--data", dir, "1"); err == nil {
		t.Errorf("deleting twice succeeded")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
