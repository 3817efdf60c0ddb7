package install_test

import (
	"testing"
	"time"

	"zhizhi/agent/config"
	"zhizhi/agent/install"
)

// TestAgentAcceptsRenderedConfig feeds the configuration that install writes to the agent's own config parser
// (a test-only dependency: the install package itself does not import agent/config).
func TestAgentAcceptsRenderedConfig(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, opts := range []install.Options{
		{Server: "https://zhizhi.example.gov.cn:8443", Interval: 30 * time.Second, MetricsListen: "127.0.0.1:9469"},
		{Server: "http://10.1.2.3:8080"},
	} {
		data := install.RenderConfig(opts)
		if _, err := config.Parse("agent.yaml", data, noEnv); err != nil {
			t.Errorf("agent rejects the installed config: %v\n%s", err, data)
		}
	}
}
