// Package manifests reads the Kubernetes manifests under infra/ as the API server would
// receive them: one object per YAML document, converted to JSON.
package manifests

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

// Document is one YAML document of a manifest file.
type Document struct {
	File  string // path as given to Load, joined with the file's relative path
	Index int    // position of the document in its file, from 0
	JSON  []byte // the document converted to JSON
	// Header holds apiVersion, kind and metadata.name; empty for a non-Kubernetes document.
	Header Header
}

// Header is the part of an object every Kubernetes manifest has.
type Header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

// IsKubernetesObject tells whether the document declares apiVersion and kind.
func (d Document) IsKubernetesObject() bool {
	return d.Header.APIVersion != "" || d.Header.Kind != ""
}

// String names the document for error messages, e.g. "infra/x.yaml#1 (Secret/token)".
func (d Document) String() string {
	return fmt.Sprintf("%s#%d (%s/%s)", d.File, d.Index, d.Header.Kind, d.Header.Metadata.Name)
}

// Object returns the document as the generic map the API server validates.
func (d Document) Object() (map[string]any, error) {
	var object map[string]any
	// As the API server decodes unstructured objects: integers stay int64.
	if err := kjson.UnmarshalCaseSensitivePreserveInts(d.JSON, &object); err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	return object, nil
}

// DecodeStrict decodes the document into a typed object the way kube-apiserver's strict
// field validation does: field names match case-sensitively, and unknown or duplicate
// fields are errors.
func (d Document) DecodeStrict(into any) error {
	strictErrs, err := kjson.UnmarshalStrict(d.JSON, into)
	if err != nil {
		return fmt.Errorf("%s: %w", d, err)
	}
	if len(strictErrs) > 0 {
		return fmt.Errorf("%s: %w", d, errors.Join(strictErrs...))
	}
	return nil
}

// LoadDir reads every *.yaml and *.yml file under root (recursively), in path order. A Helm
// chart's directory (one holding Chart.yaml) is left out: its files are templates and values,
// not manifests; what the chart renders (`helm template --output-dir`) is validated instead.
func LoadDir(root string) ([]Document, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entry.IsDir() && isHelmChart(path) {
			return filepath.SkipDir
		}
		if !entry.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var documents []Document
	for _, file := range files {
		fileDocuments, err := LoadFile(file)
		if err != nil {
			return nil, err
		}
		documents = append(documents, fileDocuments...)
	}
	return documents, nil
}

func isHelmChart(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "Chart.yaml"))
	return err == nil
}

// LoadFile splits a multi-document YAML file; empty documents (comments only) are skipped.
func LoadFile(path string) ([]Document, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, content)
}

// Parse splits YAML content into documents; path only names them in errors.
func Parse(path string, content []byte) ([]Document, error) {
	reader := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(content)))
	var documents []Document
	for index := 0; ; index++ {
		chunk, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return documents, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s#%d: %w", path, index, err)
		}
		asJSON, err := sigsyaml.YAMLToJSONStrict(chunk)
		if err != nil {
			return nil, fmt.Errorf("%s#%d: %w", path, index, err)
		}
		if bytes.Equal(bytes.TrimSpace(asJSON), []byte("null")) {
			continue
		}
		document := Document{File: path, Index: index, JSON: asJSON}
		if err := kjson.UnmarshalCaseSensitivePreserveInts(asJSON, &document.Header); err != nil {
			return nil, fmt.Errorf("%s#%d: not a YAML mapping: %w", path, index, err)
		}
		documents = append(documents, document)
	}
}
