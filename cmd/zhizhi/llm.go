package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"zhizhi/analyzer/llm"
)

// Environment variables that configure the LLM endpoint; flags override them.
const (
	envLLMBaseURL = "ZHIZHI_LLM_BASE_URL"
	envLLMModel   = "ZHIZHI_LLM_MODEL"
	envLLMKeyFile = "ZHIZHI_LLM_API_KEY_FILE"
	envLLMTimeout = "ZHIZHI_LLM_TIMEOUT"
)

// llmFlags configure the OpenAI-compatible endpoint the narrative layer uses. Nothing set: templates only.
type llmFlags struct {
	baseURL, model, keyFile string
	timeout                 time.Duration
}

// register adds the --llm-* flags, defaulting to the ZHIZHI_LLM_* environment.
func (f *llmFlags) register(fs *pflag.FlagSet) {
	timeout := 60 * time.Second
	if v := os.Getenv(envLLMTimeout); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			timeout = d
		}
	}
	fs.StringVar(&f.baseURL, "llm-base-url", os.Getenv(envLLMBaseURL),
		"OpenAI-compatible endpoint, e.g. http://10.1.2.3:8000/v1 (env "+envLLMBaseURL+"); empty: templates only")
	fs.StringVar(&f.model, "llm-model", os.Getenv(envLLMModel), "model name, e.g. Qwen2.5-32B-Instruct (env "+envLLMModel+")")
	fs.StringVar(&f.keyFile, "llm-api-key-file", os.Getenv(envLLMKeyFile),
		"file holding the API key, mode 0600 (env "+envLLMKeyFile+"); empty: no key")
	fs.DurationVar(&f.timeout, "llm-timeout", timeout, "timeout of one LLM request (env "+envLLMTimeout+")")
}

// config builds the llm.Config, reading the key from its file. The file must not be readable by group or
// others; the key is never logged (llm.Config hides it).
func (f llmFlags) config() (llm.Config, error) {
	cfg := llm.Config{BaseURL: strings.TrimSpace(f.baseURL), Model: strings.TrimSpace(f.model), Timeout: f.timeout}
	if f.keyFile != "" {
		fi, err := os.Stat(f.keyFile)
		if err != nil {
			return cfg, fmt.Errorf("llm api key file: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return cfg, fmt.Errorf("llm api key file %s: mode %04o, want 0600 (chmod 600 %s)", f.keyFile, fi.Mode().Perm(), f.keyFile)
		}
		b, err := os.ReadFile(f.keyFile)
		if err != nil {
			return cfg, fmt.Errorf("llm api key file: %w", err)
		}
		cfg.APIKey = strings.TrimSpace(string(b))
		if cfg.APIKey == "" {
			return cfg, fmt.Errorf("llm api key file %s: empty", f.keyFile)
		}
	}
	return cfg, nil
}

// completer returns the Completer of the configured endpoint, or nil (templates only) when none is set.
func (f llmFlags) completer(log *slog.Logger) (llm.Completer, error) {
	cfg, err := f.config()
	if err != nil {
		return nil, err
	}
	c, err := llm.FromConfig(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("llm: %w", err)
	}
	if c == nil {
		log.Info("narrative: no LLM configured, templates only")
	} else {
		log.Info("narrative: LLM configured", "llm", cfg)
	}
	return c, nil
}

func (c *cli) llmCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "llm", Short: "Check the LLM endpoint the reports use"}
	var f llmFlags
	check := &cobra.Command{
		Use:   "check",
		Short: "Tell whether the configured OpenAI-compatible endpoint works and supports JSON-schema output",
		Long: `Probe the endpoint: list its models, send a tiny completion, and test JSON-schema and JSON-object
output. Prints the report and exits non-zero when the endpoint cannot be used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			if !cfg.Enabled() {
				return errors.New("no LLM endpoint configured: set --llm-base-url and --llm-model (or " + envLLMBaseURL + " and " + envLLMModel + ")")
			}
			rep, err := llm.Check(cmd.Context(), cfg)
			if err != nil {
				return fmt.Errorf("llm check: %w", err)
			}
			fmt.Fprintln(c.out, rep.String())
			if !rep.OK {
				return fmt.Errorf("llm endpoint %s is not usable", cfg.BaseURL)
			}
			return nil
		},
	}
	f.register(check.Flags())
	cmd.AddCommand(check)
	return cmd
}
