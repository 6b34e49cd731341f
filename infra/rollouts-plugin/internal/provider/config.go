package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
)

// PluginName is the key of this plugin in the controller's ConfigMap and in
// an AnalysisTemplate's provider.plugin block.
const PluginName = "honeycomb-rollouts/honeycomb"

// Auth modes. sigv4 suits the Lambda Function URL (AuthType AWS_IAM); bearer
// suits any evaluator with a caller registry entry; none is for local demos.
const (
	AuthSigV4  = "sigv4"
	AuthBearer = "bearer"
	AuthNone   = "none"
)

// What Argo's conditions judge (`result`): the evaluator's value, or its verdict on a
// comparison (`result == "pass"`; needs compare and judge in the request).
const (
	ResultValue   = "value"
	ResultVerdict = "verdict"
)

const (
	defaultTimeout = 15 * time.Second // the evaluator's default deadline is 8 s, plus a cold start
	maxTimeout     = 60 * time.Second // the controller reconciles every few seconds; do not hold it longer
	defaultService = "lambda"         // SigV4 service of Function URLs; "execute-api" for API Gateway
)

// Config is what a metric puts under provider.plugin["honeycomb-rollouts/honeycomb"].
// The controller resolves {{args.*}} in it before every call.
type Config struct {
	Endpoint       string          `json:"endpoint"`
	Auth           string          `json:"auth"`
	Region         string          `json:"region,omitempty"`
	Service        string          `json:"service,omitempty"`
	TokenFile      string          `json:"tokenFile,omitempty"`
	TokenEnv       string          `json:"tokenEnv,omitempty"`
	TimeoutSeconds float64         `json:"timeoutSeconds,omitempty"`
	Result         string          `json:"result,omitempty"`
	Request        json.RawMessage `json:"request"`
}

// Timeout is the plugin's own deadline for one measurement; the host sets none.
func (c Config) Timeout() time.Duration {
	if c.TimeoutSeconds == 0 {
		return defaultTimeout
	}
	return time.Duration(c.TimeoutSeconds * float64(time.Second))
}

// ParseConfig reads and validates the plugin's block of a metric. Errors name
// the offending field so they read well in the AnalysisRun's status.
func ParseConfig(metric v1alpha1.Metric) (Config, error) {
	raw, ok := metric.Provider.Plugin[PluginName]
	if !ok && len(metric.Provider.Plugin) == 1 {
		// The controller only hands us metrics whose single plugin entry maps to
		// this binary, so a renamed ConfigMap entry still finds its config.
		for _, only := range metric.Provider.Plugin {
			raw, ok = only, true
		}
	}
	if !ok {
		return Config{}, fmt.Errorf("metric %q has no provider.plugin[%q] block", metric.Name, PluginName)
	}
	var cfg Config
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&cfg); err != nil {
		return Config{}, fmt.Errorf("plugin config: %w", err)
	}
	return cfg, cfg.validate()
}

func (c Config) validate() error {
	u, err := url.Parse(c.Endpoint)
	if c.Endpoint == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("plugin config: endpoint must be an http(s) URL such as https://<id>.lambda-url.<region>.on.aws/v1/evaluate (got %q)", c.Endpoint)
	}
	switch c.Auth {
	case AuthSigV4, AuthNone:
		if c.TokenFile != "" || c.TokenEnv != "" {
			return fmt.Errorf("plugin config: tokenFile/tokenEnv only apply to auth %q", AuthBearer)
		}
	case AuthBearer:
		if (c.TokenFile == "") == (c.TokenEnv == "") {
			return fmt.Errorf("plugin config: auth %q needs exactly one of tokenFile or tokenEnv", AuthBearer)
		}
	default:
		return fmt.Errorf("plugin config: auth must be one of %s, %s, %s (got %q)", AuthSigV4, AuthBearer, AuthNone, c.Auth)
	}
	if c.Auth != AuthSigV4 && (c.Region != "" || c.Service != "") {
		return fmt.Errorf("plugin config: region/service only apply to auth %q", AuthSigV4)
	}
	if c.TimeoutSeconds < 0 || c.Timeout() > maxTimeout {
		return fmt.Errorf("plugin config: timeoutSeconds must be between 0 (default %s) and %s (got %v)",
			defaultTimeout, maxTimeout, c.TimeoutSeconds)
	}
	if c.Result != "" && c.Result != ResultValue && c.Result != ResultVerdict {
		return fmt.Errorf("plugin config: result must be %q (default) or %q (got %q)", ResultValue, ResultVerdict, c.Result)
	}
	if trimmed := bytes.TrimSpace(c.Request); len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("plugin config: request must be the JSON object sent to POST /v1/evaluate")
	}
	return nil
}

// bearerToken reads the token on every call so a rotated Secret is picked up
// without restarting the controller.
func (c Config) bearerToken() (string, error) {
	if c.TokenEnv != "" {
		token := strings.TrimSpace(os.Getenv(c.TokenEnv))
		if token == "" {
			return "", fmt.Errorf("bearer token: environment variable %s is empty or unset in the controller", c.TokenEnv)
		}
		return token, nil
	}
	content, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("bearer token: %w", err)
	}
	token := strings.TrimSpace(string(content))
	if token == "" {
		return "", fmt.Errorf("bearer token: file %s is empty", c.TokenFile)
	}
	return token, nil
}
