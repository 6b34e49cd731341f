package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	metricplugin "github.com/argoproj/argo-rollouts/metricproviders/plugin"
	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	argoconfig "github.com/argoproj/argo-rollouts/utils/config"
	pluginutil "github.com/argoproj/argo-rollouts/utils/plugin"
	goPlugin "github.com/hashicorp/go-plugin"
	corev1 "k8s.io/api/core/v1"
	k8sfake "k8s.io/client-go/kubernetes/fake"
)

// releaseServer stands in for where the release binary is published: it answers
// the ConfigMap's location with the plugin binary built for this test run.
type releaseServer struct{ location, binary string }

func (s releaseServer) Get(url string, _ http.Header) (*http.Response, error) {
	if url != s.location {
		return &http.Response{StatusCode: http.StatusNotFound, Body: io.NopCloser(strings.NewReader("not found"))}, nil
	}
	content, err := os.ReadFile(s.binary)
	if err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(bytes.NewReader(content))}, nil
}

// TestControllerInstallsAndRunsThePlugin goes through the controller's own code:
// utils/config reads plugin-configmap.yaml, utils/plugin downloads the binary and
// checks its sha256, and metricproviders/plugin.NewRpcPlugin starts it and runs the
// bearer AnalysisTemplate's metric. Only the sha256 is replaced, by that of the
// binary built for this run (the committed one is the linux/amd64 release build).
func TestControllerInstallsAndRunsThePlugin(t *testing.T) {
	var configMap corev1.ConfigMap
	readManifest(t, "plugin-configmap.yaml", &configMap)
	binary, err := os.ReadFile(stack.pluginBin)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(binary)
	items := configMap.Data["metricProviderPlugins"]
	committedSha := items[strings.Index(items, "sha256: ")+len("sha256: "):][:64]
	location := strings.TrimSpace(strings.SplitN(items[strings.Index(items, "location: ")+len("location: "):], "\n", 2)[0])

	t.Chdir(t.TempDir()) // the controller installs plugins under ./plugin-bin
	t.Setenv("POD_NAMESPACE", configMap.Namespace)
	t.Cleanup(argoconfig.UnInitializeConfig)
	t.Cleanup(goPlugin.CleanupClients)
	downloads := releaseServer{location: location, binary: stack.pluginBin}

	install := func(sha string) error {
		cm := configMap.DeepCopy()
		cm.Data["metricProviderPlugins"] = strings.Replace(items, committedSha, sha, 1)
		kube := k8sfake.NewClientset(cm)
		if _, err := argoconfig.InitializeConfig(kube, "argo-rollouts-config"); err != nil {
			t.Fatalf("controller rejected the ConfigMap: %v", err)
		}
		return pluginutil.DownloadPlugins(downloads, kube)
	}
	if err := install(strings.Repeat("0", 64)); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("a wrong sha256 was accepted: %v", err)
	}
	if err := install(hex.EncodeToString(digest[:])); err != nil {
		t.Fatalf("controller could not install the plugin: %v", err)
	}

	for canary, want := range map[string]v1alpha1.AnalysisPhase{
		goodCanary: v1alpha1.AnalysisPhaseSuccessful,
		badCanary:  v1alpha1.AnalysisPhaseFailed,
	} {
		metric := bearerMetric(t, canary, stack.tokenFile)
		provider, err := metricplugin.NewRpcPlugin(metric)
		if err != nil {
			t.Fatalf("controller could not start the plugin: %v", err)
		}
		if provider.Type() != metricplugin.ProviderType {
			t.Fatalf("Type %q", provider.Type())
		}
		requirePhase(t, canary, provider.Run(&v1alpha1.AnalysisRun{}, metric), want)
	}
}
