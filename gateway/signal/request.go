package signal

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// The longest label and annotation values a request copies; longer ones are
// cut, as kubernaut's gateway cuts them (63 is the longest Kubernetes label
// value, 262000 just under the 256 KiB annotation limit). Unlike
// kubernaut's, the cut never splits a UTF-8 character.
const (
	MaxLabelValueBytes      = 63
	MaxAnnotationValueBytes = 262000
)

// DefaultMaxObjectBytes is the default of Parser.MaxObjectBytes: 1 MiB,
// leaving room under etcd's default request limit (1.5 MiB) for what the
// API server adds on create (identity, timestamps, managed fields) and for
// the status kubernaut's controllers write later. A request etcd refuses
// would be refused on every retry.
const DefaultMaxObjectBytes = 1 << 20

// NewRemediationRequest builds the request for sig, whose fingerprint is
// fp, to be created in ns, with its spec filled as kubernaut's gateway fills
// it.
func NewRemediationRequest(ns, fp string, sig *Signal, received time.Time) *v1alpha1.RemediationRequest {
	// The schema requires a firing time; a source that gives none gets
	// the time it was received, as kubernaut's gateway does.
	firing := sig.FiringTime
	if firing.IsZero() {
		firing = received
	}
	return &v1alpha1.RemediationRequest{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:    ns,
			GenerateName: "rr-" + fp[:12] + "-",
			Labels:       requestLabels(),
			Annotations:  map[string]string{CreatedAtAnnotation: received.UTC().Format(time.RFC3339)},
		},
		Spec: v1alpha1.RemediationRequestSpec{
			SignalFingerprint: fp,
			SignalName:        sig.Name,
			Severity:          sig.Severity,
			SignalType:        SignalTypeAlert,
			SignalSource:      sig.Source,
			TargetType:        v1alpha1.TargetTypeKubernetes,
			TargetResource:    sig.Target,
			ClusterID:         sig.ClusterID,
			FiringTime:        metav1.NewTime(firing),
			ReceivedTime:      metav1.NewTime(received),
			SignalLabels:      truncateValues(sig.Labels, MaxLabelValueBytes),
			SignalAnnotations: truncateValues(sig.Annotations, MaxAnnotationValueBytes),
			ProviderData:      providerData(sig.Target.Namespace, sig.Labels),
			OriginalPayload:   sig.Payload,
		},
	}
}

// CreatedAtAnnotation is when the gateway created a request, as kubernaut's
// gateway annotates it (RFC 3339, UTC, to the second).
const CreatedAtAnnotation = "kubernaut.ai/created-at"

// requestLabels are the labels of a request the gateway creates: kubernaut's
// gateway's two, so that what selects kubernaut's gateway's requests selects
// rrguard's (rrguard's gateway takes its place), and rrguard's own, to tell
// them apart.
func requestLabels() map[string]string {
	return map[string]string{
		"app.kubernetes.io/managed-by": "gateway-service",
		"app.kubernetes.io/component":  "remediation",
		"app.kubernetes.io/created-by": "rrguard-gateway",
	}
}

// providerData is spec.providerData for a Kubernetes target, as kubernaut's
// gateway writes it: the target's namespace and the signal's labels, uncut.
func providerData(ns string, labels map[string]string) string {
	b, err := json.Marshal(struct {
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	}{ns, labels})
	if err != nil {
		// A struct of strings always marshals.
		panic(fmt.Sprintf("marshal provider data: %v", err))
	}
	return string(b)
}

// truncateValues returns m with every value longer than limit bytes cut to
// at most limit at a character boundary; m itself when none is.
func truncateValues(m map[string]string, limit int) map[string]string {
	var out map[string]string
	for k, v := range m {
		if len(v) <= limit {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(m))
			for k2, v2 := range m {
				out[k2] = v2
			}
		}
		cut := limit
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		out[k] = v[:cut]
	}
	if out == nil {
		return m
	}
	return out
}

// objectOverhead bounds what a request holds besides its copies of the
// signal (payload, labels, annotations, provider data, target), as JSON:
// the fingerprint, name, severity, source, cluster and times, each bounded
// by the schema, the metadata the gateway and the API server set on create,
// and a target's growth when its owner replaces it.
const objectOverhead = 16 << 10

// managedFieldBytes is what a map key costs again in the managed fields the
// API server records for it ("f:<key>":{},).
const managedFieldBytes = 8

// size is an upper bound on the bytes a signal's request takes as stored,
// with its payload taking payloadBytes once JSON-encoded.
type size struct {
	payload, labels, annotations, providerData, target, keys int
}

func (s size) total() int {
	return objectOverhead + s.payload + s.labels + s.annotations + s.providerData + s.target + s.keys
}

// sizeOf measures what sig's request copies of it, with sig.Payload taking
// payloadBytes as JSON (measured once per notification by the caller).
func sizeOf(sig *Signal, payloadBytes int) size {
	s := size{payload: payloadBytes}
	s.labels = jsonBytes(truncateValues(sig.Labels, MaxLabelValueBytes))
	s.annotations = jsonBytes(truncateValues(sig.Annotations, MaxAnnotationValueBytes))
	s.providerData = jsonBytes(providerData(sig.Target.Namespace, sig.Labels))
	s.target = jsonBytes(sig.Target)
	for k := range sig.Labels {
		s.keys += len(k) + managedFieldBytes
	}
	for k := range sig.Annotations {
		s.keys += len(k) + managedFieldBytes
	}
	return s
}

func jsonBytes(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err))
	}
	return len(b)
}

func (p Parser) maxObjectBytes() int {
	if p.MaxObjectBytes > 0 {
		return p.MaxObjectBytes
	}
	return DefaultMaxObjectBytes
}

// fit returns an ErrTooLarge when sig's request, with its payload taking
// payloadBytes, would exceed the limit.
func (p Parser) fit(sig *Signal, payloadBytes int) error {
	s := sizeOf(sig, payloadBytes)
	if limit := p.maxObjectBytes(); s.total() > limit {
		return fmt.Errorf("%w: its RemediationRequest would take up to %d bytes (payload %d, labels %d, annotations %d, provider data %d), over the %d-byte limit",
			ErrTooLarge, s.total(), s.payload, s.labels, s.annotations, s.providerData, limit)
	}
	return nil
}
