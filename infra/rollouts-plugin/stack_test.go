package main

// The end-to-end harness: the real plugin binary started by go-plugin as the
// argo-rollouts controller starts it, in front of the real evaluator and
// Honeycomb emulator (console scripts from $EVALUATOR_VENV_BIN), plus a
// botocore SigV4 verifier standing in for the Lambda Function URL.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/metricproviders/plugin/rpc"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	query "github.com/argoproj/argo-rollouts/utils/template"
	"github.com/hashicorp/go-hclog"
	goPlugin "github.com/hashicorp/go-plugin"
	"sigs.k8s.io/yaml"
)

const (
	testToken      = "plugin-test-token-7f3a" // the bearer caller's token
	verifierToken  = "sigv4-role-token-91c2"  // what the verifier passes on for a good signature
	testAccessKey  = "AKIAPLUGINTEST0000001"  // test credentials shared with the verifier
	testSecretKey  = "pluginTestSecretKey/0123456789abcdefghijkl"
	testSessionTok = "plugin-test-session-token"
	testRegion     = "eu-west-1"
	// The emulator's demo versions (docs/design.md "Demo data"): pod-template hashes.
	stableHash   = "6f8d9c7b5"
	goodCanary   = "5b7c6d8e9"
	badCanary    = "7d9f8b6c5"
	noDataCanary = "0000000000"
)

// manifestsDir holds the plugin manifests; absolute, since one test changes directory.
var manifestsDir = "../argo-rollouts"

// stack is shared by every test and benchmark of the package; TestMain owns it.
var stack struct {
	pluginBin    string
	emulatorURL  string
	evaluatorURL string // .../v1/evaluate
	verifierURL  string // .../v1/evaluate behind SigV4
	tokenFile    string
	processes    []*exec.Cmd
	logs         []string
}

func TestMain(m *testing.M) {
	// go-plugin hands the host's environment to the plugin after the command's
	// own, so stray AWS settings here would override the test credentials.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AWS_") {
			_ = os.Unsetenv(name)
		}
	}
	code := 1
	if err := startStack(); err != nil {
		fmt.Fprintln(os.Stderr, "starting the test stack:", err)
		printLogs()
	} else {
		code = m.Run()
		if code != 0 {
			printLogs()
		}
	}
	stopStack()
	os.Exit(code)
}

func startStack() error {
	var err error
	if manifestsDir, err = filepath.Abs(manifestsDir); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "rollouts-plugin-test-")
	if err != nil {
		return err
	}
	stack.pluginBin = filepath.Join(dir, "honeycomb-rollouts-plugin")
	build := exec.Command("go", "build", "-o", stack.pluginBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}

	venv := os.Getenv("EVALUATOR_VENV_BIN")
	if venv == "" {
		venv = "../../.venv/bin"
	}
	if venv, err = filepath.Abs(venv); err != nil {
		return err
	}
	for _, script := range []string{"honeycomb-emulator", "honeycomb-evaluator", "python"} {
		if _, err := os.Stat(filepath.Join(venv, script)); err != nil {
			return fmt.Errorf("%s not found in %s (set EVALUATOR_VENV_BIN or run make setup): %w", script, venv, err)
		}
	}

	stack.tokenFile = filepath.Join(dir, "token")
	if err := os.WriteFile(stack.tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		return err
	}
	callersFile := filepath.Join(dir, "callers.json")
	callers := map[string]any{"callers": []map[string]any{
		{"name": "plugin-bearer", "token_sha256": sha256Hex(testToken)},
		{"name": "plugin-sigv4-role", "token_sha256": sha256Hex(verifierToken)},
	}}
	if err := writeJSON(callersFile, callers); err != nil {
		return err
	}

	// The suite makes a few dozen distinct queries; the rate budget is not under test here.
	emulatorPort, evaluatorPort, verifierPort := freePort(), freePort(), freePort()
	stack.emulatorURL = fmt.Sprintf("http://127.0.0.1:%d", emulatorPort)
	if err := startServer(dir, "emulator", stack.emulatorURL+"/_emulator/health", nil,
		filepath.Join(venv, "honeycomb-emulator"), "--demo", "--port", fmt.Sprint(emulatorPort),
		"--result-delay-ms", "200", "--rate-limit-per-minute", "1000"); err != nil {
		return err
	}
	evaluatorBase := fmt.Sprintf("http://127.0.0.1:%d", evaluatorPort)
	stack.evaluatorURL = evaluatorBase + "/v1/evaluate"
	if err := startServer(dir, "evaluator", evaluatorBase+"/healthz", []string{
		"HONEYCOMB_API_URL=" + stack.emulatorURL,
		"HONEYCOMB_API_KEY=emulator-key",
		"EVALUATOR_CALLERS_FILE=" + callersFile,
		"EVALUATOR_RATE_LIMIT_PER_MINUTE=1000",
	}, filepath.Join(venv, "honeycomb-evaluator"), "serve", "--host", "127.0.0.1", "--port", fmt.Sprint(evaluatorPort)); err != nil {
		return err
	}
	verifierBase := fmt.Sprintf("http://127.0.0.1:%d", verifierPort)
	stack.verifierURL = verifierBase + "/v1/evaluate"
	return startServer(dir, "sigv4-verifier", verifierBase+"/_verifier/health", nil,
		filepath.Join(venv, "python"), "testdata/sigv4_verifier.py", "--port", fmt.Sprint(verifierPort),
		"--access-key", testAccessKey, "--secret-key", testSecretKey, "--session-token", testSessionTok,
		"--region", testRegion, "--service", "lambda",
		"--upstream", stack.evaluatorURL, "--upstream-token", verifierToken)
}

// startServer runs argv with its output in a log file and waits until health answers.
func startServer(dir, name, health string, env []string, argv ...string) error {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	stack.processes = append(stack.processes, cmd)
	stack.logs = append(stack.logs, logPath)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(90 * time.Second) // a cold Python import on a busy 2-core machine
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("%s exited during start: %v", name, err)
		default:
		}
		if resp, err := http.Get(health); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not healthy at %s after 90s", name, health)
}

func stopStack() {
	for _, cmd := range stack.processes {
		// Each server leads its own process group, so its workers stop with it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	for _, cmd := range stack.processes {
		done := make(chan struct{})
		go func() { _, _ = cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	}
	if stack.pluginBin != "" {
		_ = os.RemoveAll(filepath.Dir(stack.pluginBin))
	}
}

func printLogs() {
	for _, path := range stack.logs {
		content, _ := os.ReadFile(path)
		if len(content) > 4000 {
			content = content[len(content)-4000:]
		}
		fmt.Fprintf(os.Stderr, "---- %s (tail)\n%s\n", filepath.Base(path), content)
	}
}

// handshakeConfig and the plugin map are the controller's own
// (metricproviders/plugin/client/client.go, unexported there).
var controllerHandshake = goPlugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
	MagicCookieValue: "metricprovider",
}

// startPlugin starts the built binary exactly as the controller does, plus env,
// and returns the dispensed provider after InitPlugin; its process id is for RSS.
func startPlugin(tb testing.TB, env ...string) (rpc.MetricProviderPlugin, int) {
	tb.Helper()
	return startPluginBinary(tb, stack.pluginBin, env...)
}

func startPluginBinary(tb testing.TB, binary string, env ...string) (rpc.MetricProviderPlugin, int) {
	tb.Helper()
	cmd := exec.Command(binary)
	cmd.Env = env
	client := goPlugin.NewClient(&goPlugin.ClientConfig{
		HandshakeConfig: controllerHandshake,
		Plugins:         map[string]goPlugin.Plugin{"RpcMetricProviderPlugin": &rpc.RpcMetricProviderPlugin{}},
		Cmd:             cmd,
		Managed:         true,
		Logger:          hclog.New(&hclog.LoggerOptions{Output: io.Discard}),
	})
	tb.Cleanup(client.Kill)
	rpcClient, err := client.Client()
	if err != nil {
		tb.Fatalf("starting plugin: %v", err)
	}
	raw, err := rpcClient.Dispense("RpcMetricProviderPlugin")
	if err != nil {
		tb.Fatalf("dispense: %v", err)
	}
	provider, ok := raw.(rpc.MetricProviderPlugin)
	if !ok {
		tb.Fatalf("dispensed %T", raw)
	}
	if rpcErr := provider.InitPlugin(); rpcErr.HasError() {
		tb.Fatalf("InitPlugin: %s", rpcErr.Error())
	}
	return provider, client.ReattachConfig().Pid
}

// sigv4Env is the plugin's environment for signing with the test credentials only.
func sigv4Env(secretKey string) []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + testAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + secretKey,
		"AWS_SESSION_TOKEN=" + testSessionTok,
		"AWS_CONFIG_FILE=/nonexistent/aws-config",
		"AWS_SHARED_CREDENTIALS_FILE=/nonexistent/aws-credentials",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// templateMetrics loads an AnalysisTemplate from infra/argo-rollouts and resolves
// its args as the controller does (utils/analysis.ResolveMetricArgs: marshal the
// metric, substitute quoted args, unmarshal).
func templateMetrics(tb testing.TB, file string, argValues map[string]string) map[string]v1alpha1.Metric {
	tb.Helper()
	content, err := os.ReadFile(filepath.Join(manifestsDir, file))
	if err != nil {
		tb.Fatal(err)
	}
	var tmpl v1alpha1.AnalysisTemplate
	if err := yaml.UnmarshalStrict(content, &tmpl); err != nil {
		tb.Fatalf("%s: %v", file, err)
	}
	args := make([]v1alpha1.Argument, len(tmpl.Spec.Args))
	for i, arg := range tmpl.Spec.Args {
		args[i] = arg
		if value, ok := argValues[arg.Name]; ok {
			args[i].Value = &value
		}
	}
	metrics := map[string]v1alpha1.Metric{}
	for _, metric := range tmpl.Spec.Metrics {
		raw, err := json.Marshal(metric)
		if err != nil {
			tb.Fatal(err)
		}
		resolved, err := query.ResolveQuotedArgs(string(raw), args)
		if err != nil {
			tb.Fatalf("%s: resolving args: %v", file, err)
		}
		var out v1alpha1.Metric
		if err := json.Unmarshal([]byte(resolved), &out); err != nil {
			tb.Fatal(err)
		}
		metrics[out.Name] = out
	}
	return metrics
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func writeJSON(path string, v any) error {
	content, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, content, 0o600)
}
