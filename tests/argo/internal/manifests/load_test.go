package manifests

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadDirLeavesHelmChartsOut(t *testing.T) {
	root := t.TempDir()
	write := func(path, content string) {
		t.Helper()
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("argo/secret.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
	write("helm/chart/Chart.yaml", "apiVersion: v2\nname: chart\nversion: 0.1.0\n")
	write("helm/chart/templates/service.yaml", "metadata: {name: {{ .Release.Name }}}\n")
	documents, err := LoadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(documents) != 1 || documents[0].Header.Kind != "Secret" {
		t.Fatalf("got %v, want only the Secret outside the chart", documents)
	}
}
