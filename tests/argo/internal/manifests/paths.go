package manifests

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
)

// RepoRoot is the repository's top directory, found from this source file's location so it
// does not depend on the working directory of `go test` or `go run`.
func RepoRoot() string {
	_, thisFile, _, ok := runtime.Caller(0)
	if !ok {
		panic("runtime.Caller failed")
	}
	// thisFile is <root>/tests/argo/internal/manifests/paths.go
	return filepath.Clean(filepath.Join(filepath.Dir(thisFile), "..", "..", "..", ".."))
}

// ArgoRolloutsDir is the directory of the argo-rollouts module version that go.mod pins,
// in the Go module cache (downloaded on demand). Its manifests/crds holds the CRDs of
// exactly the release whose Go packages the suite runs.
func ArgoRolloutsDir() (string, error) {
	return moduleDir(filepath.Join(RepoRoot(), "tests", "argo"), "github.com/argoproj/argo-rollouts")
}

// FlaggerCRDFile is artifacts/flagger/crd.yaml of the Flagger release that tests/flagger's
// go.mod pins (the module whose webhook code tests/flagger runs), from the Go module cache.
func FlaggerCRDFile() (string, error) {
	dir, err := moduleDir(filepath.Join(RepoRoot(), "tests", "flagger"), "github.com/fluxcd/flagger")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "artifacts", "flagger", "crd.yaml"), nil
}

// PrometheusOperatorVersion is the prometheus-operator release whose ServiceMonitor CRD the
// chart's ServiceMonitor is validated against (the newest the Go module proxy serves here).
const PrometheusOperatorVersion = "v0.85.0"

// ServiceMonitorCRDFile is example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml
// of that release's module (the CRD its `make generate` writes), from the Go module cache. No
// go.mod requires the module (nothing imports it), so it is downloaded at its pinned version.
func ServiceMonitorCRDFile() (string, error) {
	dir, err := moduleDir(filepath.Join(RepoRoot(), "tests", "argo"),
		"github.com/prometheus-operator/prometheus-operator@"+PrometheusOperatorVersion)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "example", "prometheus-operator-crd", "monitoring.coreos.com_servicemonitors.yaml"), nil
}

// CRDFiles are the CRD files besides argo-rollouts' own: Flagger's and the ServiceMonitor's.
func CRDFiles() ([]string, error) {
	flagger, err := FlaggerCRDFile()
	if err != nil {
		return nil, err
	}
	serviceMonitor, err := ServiceMonitorCRDFile()
	if err != nil {
		return nil, err
	}
	return []string{flagger, serviceMonitor}, nil
}

// moduleDir downloads (if needed) the version of module that the go.mod in goModDir requires
// (or module@version as given) and returns its directory in the module cache.
func moduleDir(goModDir, module string) (string, error) {
	command := exec.Command("go", "mod", "download", "-json", module)
	command.Dir = goModDir
	output, err := command.Output()
	var downloaded struct{ Dir, Error string }
	if jsonErr := json.Unmarshal(output, &downloaded); jsonErr != nil || downloaded.Error != "" || downloaded.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %v %s %s", module, err, downloaded.Error, output)
	}
	return downloaded.Dir, nil
}
