package dedup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strings"
)

// Target is the resource a signal is about, the identity of an incident.
type Target struct {
	// ClusterID names the cluster; left out of the hash when empty.
	ClusterID string
	// Namespace of the resource; empty for cluster-scoped kinds.
	Namespace string
	// Kind of the resource, for example Deployment.
	Kind string
	// Name of the resource.
	Name string
}

// ErrIncompleteTarget is returned for a target without a kind or a name.
var ErrIncompleteTarget = errors.New("target needs a kind and a name")

// Fingerprint returns the incident's fingerprint: the lower-case hex SHA-256
// of "<clusterID>:<namespace>:<kind>:<name>", without the "<clusterID>:"
// prefix when ClusterID is empty. The alert name is deliberately not part of
// it: several alerts about one workload are one incident.
func Fingerprint(t Target) (string, error) {
	if t.Kind == "" || t.Name == "" {
		return "", ErrIncompleteTarget
	}
	parts := []string{t.Namespace, t.Kind, t.Name}
	if t.ClusterID != "" {
		parts = append([]string{t.ClusterID}, parts...)
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(sum[:]), nil
}

var fingerprintPattern = regexp.MustCompile(`^[a-f0-9]{64}$`)

// ValidFingerprint reports whether fp has the form the CRD's schema demands.
func ValidFingerprint(fp string) bool {
	return fingerprintPattern.MatchString(fp)
}
