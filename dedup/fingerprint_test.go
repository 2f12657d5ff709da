package dedup

import (
	"errors"
	"strings"
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
		"a namespaced target with a cluster ID hashes all four parts": {target: Target{ClusterID: "prod-eu", Namespace: "payments", Kind: "Deployment", Name: "api"}, want: "e307b5cb842cd7d355704bfaeaf8edfccbc76c740cab618af187c417058690c1"},
		"without a cluster ID the prefix is left out":                 {target: Target{Namespace: "payments", Kind: "Deployment", Name: "api"}, want: "90c5375f2830cbd56431459d314af87e810ef05c5eccc4d66b50373682befa9b"},
		"a cluster-scoped target keeps the empty namespace slot":      {target: Target{Kind: "Node", Name: "worker-1"}, want: "5811a14c33e6ea55be7f43355c2cffd48201fcbf3fc51c48a3f58e375e6f7ccc"},
		"a cluster-scoped target with a cluster ID":                   {target: Target{ClusterID: "c1", Kind: "Node", Name: "worker-1"}, want: "e27eff132f2826af9160e0500db7d58701fbe1f8770872ddebd692ef2722acb6"},
		"no kind is refused":                          {target: Target{Namespace: "payments", Name: "api"}, wantErr: ErrIncompleteTarget},
		"no name is refused":                          {target: Target{Namespace: "payments", Kind: "Deployment"}, wantErr: ErrIncompleteTarget},
		"a name may hold ':', as RBAC names do":       {target: Target{Kind: "ClusterRole", Name: "system:controller:job-controller"}, want: "00b9cec5dfb1a90f9bc19fd5ecf352c38e2430faedad03935f8eb153cedb6f50"},
		"a name with a path in it is refused":         {target: Target{Namespace: "payments", Kind: "Pod", Name: "api/../../secrets/x"}, wantErr: ErrInvalidTarget},
		"the name '..' is refused":                    {target: Target{Namespace: "payments", Kind: "Pod", Name: ".."}, wantErr: ErrInvalidTarget},
		"a name over 253 characters is refused":       {target: Target{Namespace: "payments", Kind: "Pod", Name: strings.Repeat("a", 254)}, wantErr: ErrInvalidTarget},
		"a namespace that is no DNS label is refused": {target: Target{Namespace: "Payments_EU", Kind: "Pod", Name: "api"}, wantErr: ErrInvalidTarget},
		"a namespace with a ':' is refused":           {target: Target{Namespace: "a:b", Kind: "Pod", Name: "api"}, wantErr: ErrInvalidTarget},
		"a lower-case kind is refused":                {target: Target{Namespace: "payments", Kind: "deployment", Name: "api"}, wantErr: ErrInvalidTarget},
		"a kind with a ':' is refused":                {target: Target{Namespace: "payments", Kind: "Deploy:ment", Name: "api"}, wantErr: ErrInvalidTarget},
		"a cluster ID with a ':' is refused":          {target: Target{ClusterID: "eu:1", Namespace: "payments", Kind: "Pod", Name: "api"}, wantErr: ErrInvalidTarget},
		"a blank cluster ID is refused":               {target: Target{ClusterID: "  ", Namespace: "payments", Kind: "Pod", Name: "api"}, wantErr: ErrInvalidTarget},
		"a cluster ID over 253 characters is refused": {target: Target{ClusterID: strings.Repeat("c", 254), Kind: "Node", Name: "n"}, wantErr: ErrInvalidTarget},
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

// Two targets that the rules let through never hash the same string. Before
// the rules, a target in cluster c and one whose namespace was c and whose
// name carried the rest hashed "c:payments:Deployment:api" alike.
func TestFingerprintInputNamesOneTargetOnly(t *testing.T) {
	clustered := Target{ClusterID: "c", Namespace: "payments", Kind: "Deployment", Name: "api"}
	lookalike := Target{Namespace: "c", Kind: "payments", Name: "Deployment:api"}
	if fingerprintInput(clustered) != fingerprintInput(lookalike) {
		t.Fatal("the two targets no longer share an input; the test needs a new look-alike")
	}
	a, err := Fingerprint(clustered)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Fingerprint(lookalike)
	if !errors.Is(err, ErrInvalidTarget) {
		t.Fatalf("the look-alike got fingerprint %s (the clustered target's is %s), want ErrInvalidTarget", b, a)
	}
}

// decodeInput reads a fingerprint input back into its target by the rules
// Fingerprint enforces; it is how the test shows the input is unambiguous.
func decodeInput(s string) (Target, bool) {
	fields := strings.SplitN(s, ":", 4)
	if len(fields) < 3 {
		return Target{}, false
	}
	// The field after the first ':' is a kind (upper case) in the form
	// without a cluster ID, and a namespace (lower case or empty) in the
	// form with one.
	if f := fields[1]; f != "" && f[0] >= 'A' && f[0] <= 'Z' {
		return Target{Namespace: fields[0], Kind: fields[1], Name: strings.Join(fields[2:], ":")}, true
	}
	if len(fields) < 4 {
		return Target{}, false
	}
	return Target{ClusterID: fields[0], Namespace: fields[1], Kind: fields[2], Name: fields[3]}, true
}

func FuzzFingerprintInputIsUnambiguous(f *testing.F) {
	f.Add("c", "payments", "Deployment", "api")
	f.Add("", "payments", "Deployment", "api")
	f.Add("", "", "ClusterRole", "system:controller:x")
	f.Add("prod:eu", "c", "payments", "Deployment:api")
	f.Fuzz(func(t *testing.T, cluster, ns, kind, name string) {
		target := Target{ClusterID: cluster, Namespace: ns, Kind: kind, Name: name}
		if _, err := Fingerprint(target); err != nil {
			return
		}
		got, ok := decodeInput(fingerprintInput(target))
		if !ok || got != target {
			t.Fatalf("input %q of %+v reads back as %+v (%v)", fingerprintInput(target), target, got, ok)
		}
	})
}
