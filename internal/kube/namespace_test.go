package kube

import (
	"errors"
	"os"
	"testing"
)

func TestNamespaceDefaultsToThePodsOwn(t *testing.T) {
	noFile := func(string) ([]byte, error) { return nil, os.ErrNotExist }
	tests := map[string]struct {
		env      map[string]string
		readFile func(string) ([]byte, error)
		want     string
	}{
		"POD_NAMESPACE from the downward API comes first": {
			env:      map[string]string{"POD_NAMESPACE": "from-env"},
			readFile: func(string) ([]byte, error) { return []byte("from-file"), nil },
			want:     "from-env",
		},
		"the service account's namespace file next": {
			readFile: func(p string) ([]byte, error) {
				if p != ServiceAccountNamespaceFile {
					return nil, errors.New("unexpected path " + p)
				}
				return []byte("from-file\n"), nil
			},
			want: "from-file",
		},
		"outside a pod, rrguard-system": {readFile: noFile, want: "rrguard-system"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := PodNamespace(func(k string) string { return tc.env[k] }, tc.readFile, "rrguard-system")
			if got != tc.want {
				t.Errorf("PodNamespace = %q, want %q", got, tc.want)
			}
		})
	}
}
