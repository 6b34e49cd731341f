package flagger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// stack is the Honeycomb emulator with the demo data and the evaluator pointed at it, both
// started from the project's virtualenv on free loopback ports.
type stack struct {
	emulatorURL, evaluatorURL string
	processes                 []*exec.Cmd
	logs                      []string
}

// repoRoot is found from this file's location, so `go test` may run from anywhere.
func repoRoot() string {
	_, thisFile, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(thisFile), "..", ".."))
}

// venvBin is $EVALUATOR_VENV_BIN (the Makefile sets it) or the repository's .venv/bin.
func venvBin() string {
	if bin := os.Getenv("EVALUATOR_VENV_BIN"); bin != "" {
		return bin
	}
	return filepath.Join(repoRoot(), ".venv", "bin")
}

func startStack(logDir string, evaluatorEnv []string) (*stack, error) {
	ports := [2]int{}
	for i := range ports {
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ports[i] = listener.Addr().(*net.TCPAddr).Port
		_ = listener.Close()
	}
	s := &stack{
		emulatorURL:  fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		evaluatorURL: fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
	}
	if err := s.start(logDir, "emulator", nil, "honeycomb-emulator", "--demo", "--host", "127.0.0.1",
		"--port", strconv.Itoa(ports[0]), "--result-delay-ms", "200", "--rate-limit-per-minute", "1000"); err != nil {
		return s, err
	}
	env := append([]string{
		"HONEYCOMB_API_URL=" + s.emulatorURL, "HONEYCOMB_API_KEY=emulator-key", "EVALUATOR_RATE_LIMIT_PER_MINUTE=1000",
	}, evaluatorEnv...)
	if err := s.start(logDir, "evaluator", env, "honeycomb-evaluator", "serve", "--host", "127.0.0.1",
		"--port", strconv.Itoa(ports[1])); err != nil {
		return s, err
	}
	for _, url := range []string{s.emulatorURL + "/_emulator/health", s.evaluatorURL + "/healthz"} {
		if err := waitHealthy(url, 60*time.Second); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (s *stack) start(logDir, name string, env []string, program string, args ...string) error {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(venvBin(), program), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, stopped with it; SIGTERM from the kernel if the test binary dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", program, err)
	}
	go func() { _ = cmd.Wait(); _ = logFile.Close() }()
	s.processes = append(s.processes, cmd)
	s.logs = append(s.logs, logPath)
	return nil
}

func waitHealthy(url string, limit time.Duration) error {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if response, err := http.Get(url); err == nil {
			_ = response.Body.Close()
			if response.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("%s not healthy after %s", url, limit)
}

func (s *stack) stop() {
	for _, cmd := range s.processes {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
}

// post sends a JSON body to the emulator (its batch API and test controls).
func (s *stack) post(method, path string, body any) error {
	content, err := json.Marshal(body)
	if err != nil {
		return err
	}
	request, _ := http.NewRequest(method, s.emulatorURL+path, bytes.NewReader(content))
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("X-Honeycomb-Team", "emulator-key")
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", method, path, response.Status)
	}
	return nil
}

// ingestDeployment sends count spans of one Deployment, every errorEvery-th an error (0: none),
// spread over the last 2 to 8 minutes: inside the 10-minute windows of infra/flagger's Canary.
func (s *stack) ingestDeployment(namespace, deployment string, count, errorEvery int, durationMs float64) error {
	now := time.Now().UTC()
	events := make([]map[string]any, count)
	for i := range events {
		at := now.Add(-2*time.Minute - time.Duration(i)*6*time.Minute/time.Duration(count))
		events[i] = map[string]any{
			"time": at.Format(time.RFC3339Nano),
			"data": map[string]any{
				"name": "GET /cart", "service.name": "checkout", "duration_ms": durationMs,
				"k8s.namespace.name": namespace, "k8s.deployment.name": deployment,
				"error": errorEvery > 0 && i%errorEvery == 0,
			},
		}
	}
	return s.post(http.MethodPost, "/1/batch/checkout", events)
}
