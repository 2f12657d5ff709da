package certs

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/typed/certmanager/v1"
	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// CertManagerReadiness holds readiness back until cert-manager's Certificate
// for the webhook is Ready. It gates the start only: once Ready has been
// seen, a later failed renewal does not take the webhook out of its Service
// (the certificate it serves is still valid, and cert-manager reports the
// failure itself).
type CertManagerReadiness struct {
	certs    cmclient.CertificatesGetter
	key      types.NamespacedName
	interval time.Duration
	log      logr.Logger

	mu       sync.Mutex
	ready    bool
	why      string
	loggedAt time.Time
}

var (
	_ manager.Runnable               = (*CertManagerReadiness)(nil)
	_ manager.LeaderElectionRunnable = (*CertManagerReadiness)(nil)
	_ healthz.Checker                = (*CertManagerReadiness)(nil).Check
)

// NewCertManagerReadiness returns the readiness gate for opts (defaults
// applied), reading Certificates through certs.
func NewCertManagerReadiness(certs cmclient.CertificatesGetter, opts Options, log logr.Logger) *CertManagerReadiness {
	opts = opts.setDefaults()
	return &CertManagerReadiness{
		certs:    certs,
		key:      types.NamespacedName{Namespace: opts.Namespace, Name: opts.CertificateName},
		interval: opts.SyncInterval,
		log:      log,
		why:      "not checked yet",
	}
}

// NeedLeaderElection is false: every replica gates its own readiness.
func (r *CertManagerReadiness) NeedLeaderElection() bool { return false }

// Start polls the Certificate every interval until it is Ready or ctx ends.
func (r *CertManagerReadiness) Start(ctx context.Context) error {
	_ = wait.PollUntilContextCancel(ctx, r.interval, true, func(ctx context.Context) (bool, error) {
		return r.Poll(ctx), nil
	})
	return nil
}

// Check is the readiness check: an error saying what the Certificate lacks
// until it has been seen Ready.
func (r *CertManagerReadiness) Check(_ *http.Request) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ready {
		return nil
	}
	return fmt.Errorf("cert-manager Certificate %s is not Ready: %s", r.key, r.why)
}

// Poll reads the Certificate once and reports whether it is Ready.
func (r *CertManagerReadiness) Poll(ctx context.Context) bool {
	crt, err := r.certs.Certificates(r.key.Namespace).Get(ctx, r.key.Name, metav1.GetOptions{})
	var why string
	switch {
	case apierrors.IsNotFound(err):
		why = "the Certificate does not exist (is cert-manager installed, and manifests/certmanager applied?)"
	case err != nil:
		why = fmt.Sprintf("get Certificate: %v", err)
	case isReady(crt):
		r.mu.Lock()
		defer r.mu.Unlock()
		if !r.ready {
			r.log.Info("cert-manager Certificate is Ready", "certificate", r.key.String(), "secret", crt.Spec.SecretName)
		}
		r.ready, r.why = true, ""
		return true
	default:
		why = readyConditionSummary(crt)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	// One line when the reason changes and one a minute while it does not:
	// clear in the logs without flooding them.
	if why != r.why || time.Since(r.loggedAt) >= time.Minute {
		r.log.Info("Waiting for cert-manager Certificate to be Ready; readiness fails until then",
			"certificate", r.key.String(), "reason", why)
		r.loggedAt = time.Now()
	}
	r.ready, r.why = false, why
	return false
}

// isReady says whether the Certificate is Ready for its current spec, as
// cert-manager's apiutil.CertificateHasConditionWithObservedGeneration does
// (that package drags in cert-manager's logging stack).
func isReady(crt *cmapi.Certificate) bool {
	for _, c := range crt.Status.Conditions {
		if c.Type == cmapi.CertificateConditionReady {
			return c.Status == cmmeta.ConditionTrue && c.ObservedGeneration >= crt.Generation
		}
	}
	return false
}

func readyConditionSummary(crt *cmapi.Certificate) string {
	for _, c := range crt.Status.Conditions {
		if c.Type != cmapi.CertificateConditionReady {
			continue
		}
		if c.Status == cmmeta.ConditionTrue {
			return fmt.Sprintf("Ready is True for generation %d, but the Certificate is at generation %d", c.ObservedGeneration, crt.Generation)
		}
		return fmt.Sprintf("Ready is %s (%s: %s)", c.Status, c.Reason, c.Message)
	}
	return "no Ready condition yet (is cert-manager running?)"
}
