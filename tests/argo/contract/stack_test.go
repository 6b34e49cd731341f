package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/honeycomb-rollouts-evaluator/tests/argo/internal/manifests"
)

// stack is one Honeycomb emulator with the demo data and one evaluator pointed at it, both
// started from the project's virtualenv on free loopback ports.
type stack struct {
	emulatorURL  string
	evaluatorURL string
	processes    []*process
}

type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when the process has exited
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// venvBin is where the console scripts are: $EVALUATOR_VENV_BIN (the Makefile sets it) or
// the repository's .venv/bin.
func venvBin() string {
	if bin := os.Getenv("EVALUATOR_VENV_BIN"); bin != "" {
		return bin
	}
	return filepath.Join(manifests.RepoRoot(), ".venv", "bin")
}

// startStack starts the emulator and the evaluator with the caller registry callersFile.
// The per-minute limits of both are raised far above what the suite uses, so only the
// rate-limit test (which injects 429s) ever sees one.
func startStack(name, logDir, callersFile string) (*stack, error) {
	emulatorPort, err := freePort()
	if err != nil {
		return nil, err
	}
	evaluatorPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &stack{
		emulatorURL:  fmt.Sprintf("http://127.0.0.1:%d", emulatorPort),
		evaluatorURL: fmt.Sprintf("http://127.0.0.1:%d", evaluatorPort),
	}
	emulator, err := startProcess(name+"-emulator", logDir, nil,
		filepath.Join(venvBin(), "honeycomb-emulator"), "--demo", "--host", "127.0.0.1",
		"--port", strconv.Itoa(emulatorPort), "--result-delay-ms", "200", "--rate-limit-per-minute", "1000",
		"--slos", filepath.Join(manifests.RepoRoot(), "tests", "support", "demo_slos.yaml"))
	if err != nil {
		return nil, err
	}
	s.processes = append(s.processes, emulator)
	evaluator, err := startProcess(name+"-evaluator", logDir, []string{
		"HONEYCOMB_API_URL=" + s.emulatorURL,
		"HONEYCOMB_API_KEY=emulator-key",
		"EVALUATOR_CALLERS_FILE=" + callersFile,
		"EVALUATOR_RATE_LIMIT_PER_MINUTE=1000",
	}, filepath.Join(venvBin(), "honeycomb-evaluator"), "serve", "--host", "127.0.0.1", "--port", strconv.Itoa(evaluatorPort))
	if err != nil {
		s.stop()
		return nil, err
	}
	s.processes = append(s.processes, evaluator)
	for _, check := range []struct {
		process *process
		url     string
	}{
		{emulator, s.emulatorURL + "/_emulator/health"},
		{evaluator, s.evaluatorURL + "/healthz"},
	} {
		if err := waitHealthy(check.url, check.process, 60*time.Second); err != nil {
			s.stop()
			return nil, err
		}
	}
	return s, nil
}

func startProcess(name, logDir string, env []string, program string, args ...string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(program, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so stopping it also stops any worker it spawned; and a SIGTERM
	// from the kernel if the test binary dies without stopping it (a go test timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, program, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func waitHealthy(url string, p *process, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited: %s\n%s", p.name, p.cmd.ProcessState, p.tail())
		}
		response, err := http.Get(url)
		if err == nil {
			_ = response.Body.Close()
			if response.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not healthy at %s after %s\n%s", p.name, url, limit, p.tail())
}

func (p *process) tail() string {
	content, _ := os.ReadFile(p.log)
	if len(content) > 4000 {
		content = content[len(content)-4000:]
	}
	return string(content)
}

func (s *stack) stop() {
	for _, p := range s.processes {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	}
	for _, p := range s.processes {
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

// injectFault installs an emulator fault (POST /_emulator/faults, docs/design.md).
func (s *stack) injectFault(fault map[string]any) error {
	body, _ := json.Marshal(fault)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	request, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.emulatorURL+"/_emulator/faults", bytes.NewReader(body))
	request.Header.Set("Content-Type", "application/json")
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /_emulator/faults: %s", response.Status)
	}
	return nil
}

// emulatorStats is GET /_emulator/stats.
func (s *stack) emulatorStats() (map[string]any, error) {
	response, err := http.Get(s.emulatorURL + "/_emulator/stats")
	if err != nil {
		return nil, err
	}
	defer response.Body.Close()
	var stats map[string]any
	return stats, json.NewDecoder(response.Body).Decode(&stats)
}

func freePort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port, nil
}

// clearFaults removes every emulator fault (DELETE /_emulator/faults).
func (s *stack) clearFaults() error {
	request, _ := http.NewRequest(http.MethodDelete, s.emulatorURL+"/_emulator/faults", nil)
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("DELETE /_emulator/faults: %s", response.Status)
	}
	return nil
}

// ingestSpans sends count healthy spans of a canary with hash to the emulator's batch API,
// spread over the last 2 to 8 minutes (inside a 10-minute window that ends at the current
// minute).
func (s *stack) ingestSpans(hash string, count int) error {
	now := time.Now().UTC()
	events := make([]map[string]any, count)
	for i := range events {
		at := now.Add(-2*time.Minute - time.Duration(i)*6*time.Minute/time.Duration(count))
		events[i] = map[string]any{
			"time": at.Format(time.RFC3339Nano),
			"data": map[string]any{
				"name": "GET /cart", "service.name": "checkout", "rollouts_pod_template_hash": hash,
				"duration_ms": 100.0 + float64(i), "error": false, "http.response.status_code": 200,
			},
		}
	}
	body, err := json.Marshal(events)
	if err != nil {
		return err
	}
	request, _ := http.NewRequest(http.MethodPost, s.emulatorURL+"/1/batch/checkout", bytes.NewReader(body))
	request.Header.Set("Content-Type", "application/json")
	request.Header.Set("X-Honeycomb-Team", "emulator-key")
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /1/batch/checkout: %s", response.Status)
	}
	return nil
}
