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
	command := exec.Command("go", "mod", "download", "-json", "github.com/argoproj/argo-rollouts")
	command.Dir = filepath.Join(RepoRoot(), "tests", "argo")
	output, err := command.Output()
	var module struct{ Dir, Error string }
	if jsonErr := json.Unmarshal(output, &module); jsonErr != nil || module.Error != "" || module.Dir == "" {
		return "", fmt.Errorf("go mod download argo-rollouts: %v %s %s", err, module.Error, output)
	}
	return module.Dir, nil
}
