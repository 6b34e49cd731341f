package main

// Figures for docs/performance.md ("Argo Rollouts plugin"):
//
//	make -C infra/rollouts-plugin bench
//
// A direct POST to the evaluator with the body and bearer token a measurement sends
// is compared with one measurement through the plugin process started by go-plugin,
// as the controller does it. Both ask for a result up to 60 s old, so after the first
// call the evaluator answers from its cache and the difference is the plugin's own
// cost (net/rpc + gob of the metric and measurement, config parsing, the token file
// read, the condition evaluation). The plugin is the stripped static release build,
// whose size and resident memory are reported too.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"

	"github.com/honeycomb-rollouts-evaluator/infra/rollouts-plugin/internal/provider"
)

var releaseBuild struct {
	once sync.Once
	path string
	err  error
}

// releaseBinary builds the plugin exactly as `make release` does, for this machine.
func releaseBinary(b *testing.B) string {
	releaseBuild.once.Do(func() {
		releaseBuild.path = filepath.Join(filepath.Dir(stack.pluginBin), "release-plugin")
		build := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w", "-o", releaseBuild.path, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			releaseBuild.err = fmt.Errorf("release build: %v\n%s", err, out)
		}
	})
	if releaseBuild.err != nil {
		b.Fatal(releaseBuild.err)
	}
	return releaseBuild.path
}

// cachedMetric is the bearer template's good-canary metric, accepting a 60 s old result.
func cachedMetric(b *testing.B, url string) (v1alpha1.Metric, []byte) {
	metric := templateMetrics(b, "plugin-analysistemplate-bearer.yaml", map[string]string{
		"canary-hash": goodCanary, "evaluate-url": url, "token-file": stack.tokenFile,
	})["error-rate"]
	var cfg map[string]any
	if err := json.Unmarshal(metric.Provider.Plugin[provider.PluginName], &cfg); err != nil {
		b.Fatal(err)
	}
	cfg["request"].(map[string]any)["max_age_seconds"] = 60
	raw, _ := json.Marshal(cfg)
	metric.Provider.Plugin[provider.PluginName] = raw
	body, _ := json.Marshal(cfg["request"])
	return metric, body
}

// BenchmarkMeasurement alternates a direct POST and a plugin Run with the same body
// and token, so both see the same machine load, and reports their medians. ns/op is
// the pair's sum; read the *-median-ms metrics. "evaluator" is the real evaluator
// answering from its cache; "stub" is an in-process Go server with a fixed answer,
// which leaves only the plugin's own cost in the difference.
func BenchmarkMeasurement(b *testing.B) {
	plugin, pid := startPluginBinary(b, releaseBinary(b))

	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"value": 0.004, "query_url": "http://ui/q", "cached": true}`)
	}))
	b.Cleanup(stub.Close)

	for _, target := range []struct{ name, url string }{{"evaluator", stack.evaluatorURL}, {"stub", stub.URL}} {
		b.Run(target.name, func(b *testing.B) {
			metric, body := cachedMetric(b, target.url)
			client := &http.Client{}
			direct := func() {
				req, _ := http.NewRequest(http.MethodPost, target.url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+testToken)
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				var answer struct{ Value *float64 }
				err = json.NewDecoder(resp.Body).Decode(&answer)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || answer.Value == nil {
					b.Fatalf("status %d, %v", resp.StatusCode, err)
				}
			}
			viaPlugin := func() {
				if m := plugin.Run(&v1alpha1.AnalysisRun{}, metric); m.Phase != v1alpha1.AnalysisPhaseSuccessful {
					b.Fatalf("%s %s", m.Phase, m.Message)
				}
			}
			direct() // fill the evaluator's cache and both connection pools
			viaPlugin()
			directTimes, pluginTimes, added := make([]float64, b.N), make([]float64, b.N), make([]float64, b.N)
			b.ResetTimer()
			for i := range b.N {
				started := time.Now()
				direct()
				directTimes[i] = time.Since(started).Seconds() * 1000
				started = time.Now()
				viaPlugin()
				pluginTimes[i] = time.Since(started).Seconds() * 1000
				added[i] = pluginTimes[i] - directTimes[i]
			}
			b.StopTimer()
			b.ReportMetric(median(directTimes), "direct-median-ms")
			b.ReportMetric(median(pluginTimes), "plugin-median-ms")
			b.ReportMetric(median(added), "added-median-ms")
			b.ReportMetric(float64(residentKiB(b, pid))/1024, "plugin-rss-MiB")
		})
	}
}

// BenchmarkPluginProcess reports the release binary's size and the plugin's resident
// memory right after InitPlugin; its loop is one bare RPC round trip (Type).
func BenchmarkPluginProcess(b *testing.B) {
	binary := releaseBinary(b)
	info, err := os.Stat(binary)
	if err != nil {
		b.Fatal(err)
	}
	plugin, pid := startPluginBinary(b, binary)
	atRest := residentKiB(b, pid)
	b.ResetTimer()
	for range b.N {
		if plugin.Type() != provider.ProviderType {
			b.Fatal("Type")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(info.Size())/(1<<20), "binary-MiB")
	b.ReportMetric(float64(atRest)/1024, "rss-at-rest-MiB")
}

func median(values []float64) float64 {
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

// residentKiB reads VmRSS of a process from /proc.
func residentKiB(b *testing.B, pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if rest, ok := strings.CutPrefix(scanner.Text(), "VmRSS:"); ok {
			kib, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return kib
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
