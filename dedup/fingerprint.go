package dedup

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
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

// ErrInvalidTarget is returned, wrapped, for a target whose parts
// Kubernetes would refuse or that could be confused with another target's.
var ErrInvalidTarget = errors.New("invalid target")

// Fingerprint returns the incident's fingerprint: the lower-case hex SHA-256
// of "<clusterID>:<namespace>:<kind>:<name>", without the "<clusterID>:"
// prefix when ClusterID is empty (kubernaut's gateway hashes the same
// string, so both gateways give one incident one fingerprint). The alert
// name is deliberately not part of it: several alerts about one workload are
// one incident.
//
// The string names one target only: a cluster ID holds no ':', a namespace
// is a DNS label and a kind starts with an upper-case letter, so the field
// after the first ':' tells the two forms apart (a kind is never a
// namespace) and a name, which may hold ':', is always the rest. Fingerprint
// refuses a target that breaks these rules (ValidateTarget).
func Fingerprint(t Target) (string, error) {
	if t.Kind == "" || t.Name == "" {
		return "", ErrIncompleteTarget
	}
	if errs := ValidateTarget(t, nil); len(errs) > 0 {
		return "", fmt.Errorf("%w: %w", ErrInvalidTarget, errs.ToAggregate())
	}
	sum := sha256.Sum256([]byte(fingerprintInput(t)))
	return hex.EncodeToString(sum[:]), nil
}

// fingerprintInput is the string Fingerprint hashes.
func fingerprintInput(t Target) string {
	parts := []string{t.Namespace, t.Kind, t.Name}
	if t.ClusterID != "" {
		parts = append([]string{t.ClusterID}, parts...)
	}
	return strings.Join(parts, ":")
}

// MaxNameLength bounds a target's name: the longest name a DNS-subdomain
// kind (every workload kind) may have.
const MaxNameLength = utilvalidation.DNS1123SubdomainMaxLength

// ValidateTarget reports, as errors on fld's children clusterID, namespace,
// kind and name, each part of t that Kubernetes would refuse or that would
// make its fingerprint ambiguous. An empty ClusterID or Namespace is valid
// (none, and cluster-scoped).
func ValidateTarget(t Target, fld *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(child, value string, msgs []string) {
		for _, m := range msgs {
			errs = append(errs, field.Invalid(fld.Child(child), value, m))
		}
	}
	if t.ClusterID != "" {
		check("clusterID", t.ClusterID, ValidateClusterID(t.ClusterID))
	}
	if t.Namespace != "" {
		check("namespace", t.Namespace, ValidateNamespace(t.Namespace))
	}
	check("kind", t.Kind, ValidateKind(t.Kind))
	check("name", t.Name, ValidateName(t.Name))
	return errs
}

// ValidateClusterID returns what makes id unfit as a cluster ID: empty
// after trimming, longer than the schema allows, or holding ':' (the
// fingerprint's separator).
func ValidateClusterID(id string) []string {
	var msgs []string
	if strings.TrimSpace(id) == "" {
		msgs = append(msgs, "must not be empty or only white space")
	}
	if len(id) > v1alpha1.MaxClusterIDLength {
		msgs = append(msgs, utilvalidation.MaxLenError(v1alpha1.MaxClusterIDLength))
	}
	if strings.Contains(id, ":") {
		msgs = append(msgs, "must not contain ':'")
	}
	return msgs
}

// ValidateNamespace returns what makes ns unfit as a namespace name
// (apimachinery's rule: a DNS-1123 label).
func ValidateNamespace(ns string) []string {
	return apivalidation.ValidateNamespaceName(ns, false)
}

// ValidateKind returns what makes kind unfit as a kind: it must be a
// DNS-1035 label in any case (apiextensions' rule for a CRD's kind) and, as
// every Kubernetes kind is CamelCase, start with an upper-case letter, which
// keeps a kind from ever reading as a namespace.
func ValidateKind(kind string) []string {
	msgs := utilvalidation.IsDNS1035Label(strings.ToLower(kind))
	if kind != "" && !unicode.IsUpper(rune(kind[0])) {
		msgs = append(msgs, "must start with an upper-case letter (kinds are CamelCase, for example Deployment)")
	}
	return msgs
}

// ValidateName returns what makes name unfit as an object's name: what the
// API server refuses in any name (apimachinery's path segment rule: no '/',
// no '%', not "." or "..") and anything longer than MaxNameLength.
func ValidateName(name string) []string {
	msgs := content.IsPathSegmentName(name)
	if name == "" {
		msgs = append(msgs, utilvalidation.EmptyError())
	}
	if len(name) > MaxNameLength {
		msgs = append(msgs, utilvalidation.MaxLenError(MaxNameLength))
	}
	return msgs
}

var fingerprintPattern = regexp.MustCompile(`^[a-f0-9]{64}$`)

// ValidFingerprint reports whether fp has the form the CRD's schema demands.
func ValidFingerprint(fp string) bool {
	return fingerprintPattern.MatchString(fp)
}
