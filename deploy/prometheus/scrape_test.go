package prometheus

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zhizhi/internal/testbin"
)

// fleet is a real `zhizhi up` and a real `zhizhi-agent run` delivering to it with /metrics on.
type fleet struct {
	serverAddr, agentMetricsAddr string
}

// startFleet builds both binaries (cached by the Go build cache), starts the server, enrolls an agent with
// `zhizhi agents add`, starts the agent with a 1 s interval and waits until the server counted an accepted
// ingest request.
func startFleet(t *testing.T) fleet {
	t.Helper()
	root := testbin.Root(t)
	bin := t.TempDir()
	native := testbin.Target{GOOS: "linux", GOARCH: "amd64"}
	jobs := []testbin.Job{
		{Pkg: "./cmd/zhizhi", Target: native, Out: filepath.Join(bin, "zhizhi")},
		{Pkg: "./cmd/zhizhi-agent", Target: native, Out: filepath.Join(bin, "zhizhi-agent")},
	}
	for i, err := range testbin.BuildAll(context.Background(), root, 2, jobs) {
		if err != nil {
			t.Fatalf("%s: %v", jobs[i].Pkg, err)
		}
	}
	f := fleet{serverAddr: testbin.FreeAddr(t), agentMetricsAddr: testbin.FreeAddr(t)}
	data := t.TempDir()
	srv := testbin.Start(t, nil, jobs[0].Out, "up", "--data", data, "--listen", f.serverAddr, "--no-local-agent")
	testbin.WaitHTTP(t, srv, "http://"+f.serverAddr+"/healthz", 20*time.Second)

	token := testbin.Enroll(t, jobs[0].Out, data, "门户网站", "数据局")
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "agent.token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "agent.yaml")
	yaml := fmt.Sprintf("server: http://%s\ntoken_file: %s\ninterval: 1s\nspool:\n  dir: %s\nmetrics:\n  listen: %s\n",
		f.serverAddr, tokenFile, filepath.Join(dir, "spool"), f.agentMetricsAddr)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	agent := testbin.Start(t, nil, jobs[1].Out, "run", "--config", cfg)
	testbin.WaitHTTP(t, agent, "http://"+f.agentMetricsAddr+"/metrics", 20*time.Second)

	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(get(t, "http://"+f.serverAddr+"/metrics"), `zhizhi_ingest_requests_total{code="200"}`) {
		if time.Now().After(deadline) {
			t.Fatalf("the server counted no accepted ingest request in 20s\nserver:\n%s\nagent:\n%s", srv.Output(), agent.Output())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return f
}

func get(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return string(b)
}

// promtoolCheck runs `promtool check metrics` on exposition text and returns its complaints ("" if none).
func promtoolCheck(t *testing.T, text string) string {
	t.Helper()
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil && len(out) == 0 {
		return "promtool: " + err.Error()
	}
	return strings.TrimSpace(string(out))
}

// TestScrape starts a server and an agent and checks their /metrics with promtool and with a real
// Prometheus scraping both.
func TestScrape(t *testing.T) {
	f := startFleet(t)

	t.Run("promtool", func(t *testing.T) {
		for name, u := range map[string]string{"agent": "http://" + f.agentMetricsAddr + "/metrics", "server": "http://" + f.serverAddr + "/metrics"} {
			text := get(t, u)
			if !strings.Contains(text, "zhizhi_") {
				t.Errorf("%s: no zhizhi metric in\n%s", name, text)
			}
			if complaints := promtoolCheck(t, text); complaints != "" {
				t.Errorf("%s /metrics: promtool check metrics complains:\n%s", name, complaints)
			}
		}
		// The check can fail: a counter without _total and a metric with a non-base unit are reported.
		bad := "# HELP zhizhi_bad_requests Requests.\n# TYPE zhizhi_bad_requests counter\nzhizhi_bad_requests 1\n" +
			"# HELP zhizhi_bad_latency_milliseconds Latency.\n# TYPE zhizhi_bad_latency_milliseconds gauge\nzhizhi_bad_latency_milliseconds 3\n"
		if complaints := promtoolCheck(t, bad); !strings.Contains(complaints, "_total") || !strings.Contains(complaints, "base unit") {
			t.Errorf("promtool did not catch deliberate mistakes: %q", complaints)
		}
	})

	t.Run("prometheus", func(t *testing.T) {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "prometheus.yml")
		yaml := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: zhizhi-agent
    static_configs: [{targets: ["%s"]}]
  - job_name: zhizhi
    static_configs: [{targets: ["%s"]}]
`, f.agentMetricsAddr, f.serverAddr)
		if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("promtool", "check", "config", cfg).CombinedOutput(); err != nil {
			t.Fatalf("promtool check config: %v\n%s", err, out)
		}
		addr := testbin.FreeAddr(t)
		prom := testbin.Start(t, nil, "/usr/bin/prometheus", "--config.file="+cfg,
			"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+addr)
		testbin.WaitHTTP(t, prom, "http://"+addr+"/-/ready", 30*time.Second)

		want := map[string]func(vals map[string]float64) bool{
			// up is 1 for both jobs
			`up`:                              func(v map[string]float64) bool { return v["zhizhi-agent"] == 1 && v["zhizhi"] == 1 },
			`zhizhi_agent_samples_sent_total`: func(v map[string]float64) bool { return v["zhizhi-agent"] > 0 },
			`sum by (job) (zhizhi_ingest_requests_total{code="200"})`: func(v map[string]float64) bool { return v["zhizhi"] > 0 },
			`zhizhi_agents{state="online"}`:                           func(v map[string]float64) bool { return v["zhizhi"] == 1 },
			`zhizhi_host_memory_total_bytes`:                          func(v map[string]float64) bool { return v["zhizhi-agent"] > 0 },
		}
		deadline := time.Now().Add(30 * time.Second)
		for len(want) > 0 {
			for q, ok := range want {
				if vals := query(t, addr, q); ok(vals) {
					t.Logf("%s: %v", q, vals)
					delete(want, q)
				}
			}
			if len(want) == 0 {
				break
			}
			if time.Now().After(deadline) {
				for q := range want {
					t.Errorf("%s: %v after 30s", q, query(t, addr, q))
				}
				t.Fatalf("prometheus log:\n%s", prom.Output())
			}
			time.Sleep(500 * time.Millisecond)
		}
	})
}

// query runs an instant PromQL query against Prometheus's HTTP API and returns the values by job label.
func query(t *testing.T, addr, q string) map[string]float64 {
	t.Helper()
	body := get(t, "http://"+addr+"/api/v1/query?query="+url.QueryEscape(q))
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(bytes.NewReader([]byte(body))).Decode(&r); err != nil || r.Status != "success" {
		t.Fatalf("query %s: %v %s", q, err, body)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		var v float64
		if str, ok := s.Value[1].(string); ok {
			fmt.Sscan(str, &v)
		}
		out[s.Metric["job"]] = v
	}
	return out
}
