package certs

import (
	"context"
	"fmt"
	"time"

	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// InitialSyncTimeout bounds how long Setup waits, in self-signed mode, for
// the first certificate to be in the cert directory.
const InitialSyncTimeout = time.Minute

// Setup prepares the serving certificate for the mode in opts and returns
// the readiness check to register with mgr.AddReadyzCheck.
//
//   - files: nothing to do; the check always passes.
//   - self-signed: blocks until the serving pair is in opts.CertDir (the
//     webhook server reads it when the manager starts), then adds a runnable
//     that keeps it renewed. The check fails until a certificate is served.
//   - cert-manager: adds a runnable that polls the Certificate; the check
//     fails, and a log line says why, until it is Ready.
//
// Every replica runs the same; none needs leader election.
func Setup(ctx context.Context, mgr manager.Manager, opts Options) (healthz.Checker, error) {
	opts = opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	log := mgr.GetLogger().WithName("certs").WithValues("mode", string(opts.Mode))

	switch opts.Mode {
	case ModeSelfSigned:
		// Not the manager's client: its reads come from a cache (of every
		// Secret in the cluster, at that), and it cannot run before Start.
		c, err := client.New(mgr.GetConfig(), client.Options{})
		if err != nil {
			return nil, fmt.Errorf("self-signed certificates: new client: %w", err)
		}
		s := NewSelfSigned(c, c, opts, log)
		if err := initialSync(ctx, s); err != nil {
			return nil, err
		}
		if err := mgr.Add(s); err != nil {
			return nil, fmt.Errorf("self-signed certificates: %w", err)
		}
		return s.Check, nil

	case ModeCertManager:
		cs, err := cmclient.NewForConfig(mgr.GetConfig())
		if err != nil {
			return nil, fmt.Errorf("cert-manager clientset: %w", err)
		}
		r := NewCertManagerReadiness(cs.CertmanagerV1(), opts, log)
		if err := mgr.Add(r); err != nil {
			return nil, fmt.Errorf("cert-manager readiness: %w", err)
		}
		return r.Check, nil

	default:
		log.Info("Serving the certificate in the cert directory as it is", "certDir", opts.CertDir)
		return healthz.Ping, nil
	}
}

// initialSync retries Sync until it succeeds, ctx ends or
// InitialSyncTimeout passes: the API server may still be starting.
func initialSync(ctx context.Context, s *SelfSigned) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 2*time.Second, InitialSyncTimeout, true, func(ctx context.Context) (bool, error) {
		last = s.Sync(ctx)
		if last != nil {
			s.log.Error(last, "Self-signed certificate sync failed; retrying")
		}
		return last == nil, nil
	})
	if err != nil {
		if last == nil {
			last = err
		}
		return fmt.Errorf("self-signed certificates: first sync: %w", last)
	}
	return nil
}
