// Command validate-manifests checks every Kubernetes manifest under a directory (default:
// the repository's infra/) with the validators of the servers that would receive it; see
// package validate. It exits 1 on any problem. `make validate-manifests` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/honeycomb-rollouts-evaluator/tests/argo/internal/manifests"
	"github.com/honeycomb-rollouts-evaluator/tests/argo/internal/validate"
)

func main() {
	root := flag.String("root", filepath.Join(manifests.RepoRoot(), "infra"), "directory to validate, recursively")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "validate-manifests:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	argoDir, err := manifests.ArgoRolloutsDir()
	if err != nil {
		return err
	}
	crdFiles, err := manifests.CRDFiles()
	if err != nil {
		return err
	}
	validator, err := validate.New(argoDir, crdFiles...)
	if err != nil {
		return err
	}
	documents, err := manifests.LoadDir(root)
	if err != nil {
		return err
	}
	problems, skipped := validator.Validate(documents)
	for _, document := range skipped {
		fmt.Printf("skipped (not a Kubernetes object): %s#%d\n", document.File, document.Index)
	}
	objects := len(documents) - len(skipped)
	fmt.Printf("validated %d objects under %s against %s/manifests/crds, %s and kube-apiserver's validation of built-in kinds\n",
		objects, root, argoDir, strings.Join(crdFiles, ", "))
	if len(problems) > 0 {
		for _, problem := range problems {
			fmt.Println("INVALID", problem)
		}
		return fmt.Errorf("%d of %d objects invalid", len(problems), objects)
	}
	if objects == 0 {
		return fmt.Errorf("no Kubernetes objects found under %s", root)
	}
	return nil
}
