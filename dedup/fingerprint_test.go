package dedup

import (
	"errors"
	"testing"
)

// The expected values are known answers computed outside Go:
//
//	printf '%s' 'prod-eu:payments:Deployment:api' | sha256sum
func TestFingerprint(t *testing.T) {
	tests := map[string]struct {
		target  Target
		want    string
		wantErr error
	}{
		"a namespaced target with a cluster ID hashes all four parts": {
			target: Target{ClusterID: "prod-eu", Namespace: "payments", Kind: "Deployment", Name: "api"},
			want:   "e307b5cb842cd7d355704bfaeaf8edfccbc76c740cab618af187c417058690c1",
		},
		"without a cluster ID the prefix is left out": {
			target: Target{Namespace: "payments", Kind: "Deployment", Name: "api"},
			want:   "90c5375f2830cbd56431459d314af87e810ef05c5eccc4d66b50373682befa9b",
		},
		"a cluster-scoped target keeps the empty namespace slot": {
			target: Target{Kind: "Node", Name: "worker-1"},
			want:   "5811a14c33e6ea55be7f43355c2cffd48201fcbf3fc51c48a3f58e375e6f7ccc",
		},
		"a cluster-scoped target with a cluster ID": {
			target: Target{ClusterID: "c1", Kind: "Node", Name: "worker-1"},
			want:   "e27eff132f2826af9160e0500db7d58701fbe1f8770872ddebd692ef2722acb6",
		},
		"no kind is refused": {
			target:  Target{Namespace: "payments", Name: "api"},
			wantErr: ErrIncompleteTarget,
		},
		"no name is refused": {
			target:  Target{Namespace: "payments", Kind: "Deployment"},
			wantErr: ErrIncompleteTarget,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Fingerprint(tc.target)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Fingerprint(%+v) error = %v, want %v", tc.target, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Fingerprint(%+v) = %q, want %q", tc.target, got, tc.want)
			}
			if tc.wantErr == nil && !ValidFingerprint(got) {
				t.Errorf("Fingerprint(%+v) = %q does not match the CRD's pattern", tc.target, got)
			}
		})
	}
}

func TestFingerprintIgnoresAlertName(t *testing.T) {
	// Two alerts about one workload are one incident: the signal's name is
	// not an input at all, so equal targets give equal fingerprints.
	a, _ := Fingerprint(Target{Namespace: "ns", Kind: "Deployment", Name: "web"})
	b, _ := Fingerprint(Target{Namespace: "ns", Kind: "Deployment", Name: "web"})
	c, _ := Fingerprint(Target{Namespace: "ns", Kind: "StatefulSet", Name: "web"})
	if a != b {
		t.Errorf("equal targets gave %s and %s", a, b)
	}
	if a == c {
		t.Errorf("different kinds gave the same fingerprint %s", a)
	}
}

func TestValidFingerprint(t *testing.T) {
	tests := map[string]struct {
		fp   string
		want bool
	}{
		"64 lower-case hex characters":   {fp: "e307b5cb842cd7d355704bfaeaf8edfccbc76c740cab618af187c417058690c1", want: true},
		"upper-case hex is refused":      {fp: "E307B5CB842CD7D355704BFAEAF8EDFCCBC76C740CAB618AF187C417058690C1", want: false},
		"63 characters are refused":      {fp: "e307b5cb842cd7d355704bfaeaf8edfccbc76c740cab618af187c417058690c", want: false},
		"a non-hex character is refused": {fp: "g307b5cb842cd7d355704bfaeaf8edfccbc76c740cab618af187c417058690c1", want: false},
		"empty is refused":               {fp: "", want: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := ValidFingerprint(tc.fp); got != tc.want {
				t.Errorf("ValidFingerprint(%q) = %v, want %v", tc.fp, got, tc.want)
			}
		})
	}
}
