package certs

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	cmclient "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned"
	"github.com/go-logr/logr/funcr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

var installCertificateCRD sync.Once

// logLines collects a logger's lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) add(prefix, args string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, prefix+" "+args)
}

func (l *logLines) find(substrs ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for _, line := range l.lines {
		for _, s := range substrs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		return true
	}
	return false
}

// eventually polls cond for up to 10 s and fails with what it last said.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
	}
	t.Fatalf("%s: not within 10s; last: %s", what, last)
}

func checkErr(check healthz.Checker) string {
	if err := check(nil); err != nil {
		return err.Error()
	}
	return ""
}

func TestCertManagerModeIsNotReadyUntilTheCertificateIsReady(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	installCertificateCRD.Do(func() {
		if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{certManagerCRD(t, "cert-manager.io_certificates.yaml")}}); err != nil {
			t.Fatalf("install cert-manager's Certificate CRD: %v", err)
		}
	})
	ns := env.Namespace(t)
	logs := &logLines{}
	mgr, err := manager.New(env.Config, manager.Options{
		Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Logger: funcr.New(logs.add, funcr.Options{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	check, err := Setup(ctx, mgr, Options{Mode: ModeCertManager, Namespace: ns, CertificateName: "serving-cert", SyncInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	defer func() { cancel(); <-done }()

	eventually(t, "not ready while the Certificate does not exist", func() (bool, string) {
		msg := checkErr(check)
		return strings.Contains(msg, "does not exist") && strings.Contains(msg, ns+"/serving-cert"), msg
	})
	if !logs.find("Waiting for cert-manager Certificate to be Ready", ns+"/serving-cert", "does not exist") {
		t.Error("no log line says the webhook waits for the missing Certificate")
	}

	certs := cmclient.NewForConfigOrDie(env.Config).CertmanagerV1().Certificates(ns)
	crt, err := certs.Create(ctx, &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "serving-cert"},
		Spec: cmapi.CertificateSpec{
			SecretName: "webhook-server-cert",
			DNSNames:   []string{"rrguard-webhook-service." + ns + ".svc"},
			IssuerRef:  cmmeta.IssuerReference{Name: "selfsigned-issuer", Kind: "Issuer"},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create Certificate: %v", err)
	}
	eventually(t, "not ready while the Certificate has no Ready condition", func() (bool, string) {
		msg := checkErr(check)
		return strings.Contains(msg, "no Ready condition"), msg
	})

	setReady := func(status cmmeta.ConditionStatus, reason, message string) {
		t.Helper()
		crt.Status.Conditions = []cmapi.CertificateCondition{{
			Type: cmapi.CertificateConditionReady, Status: status, Reason: reason, Message: message,
			ObservedGeneration: crt.Generation, LastTransitionTime: &metav1.Time{Time: time.Now()},
		}}
		if crt, err = certs.UpdateStatus(ctx, crt, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update Certificate status: %v", err)
		}
	}
	setReady(cmmeta.ConditionFalse, "DoesNotExist", "Issuing certificate as Secret does not exist")
	eventually(t, "not ready, with cert-manager's reason, while Ready is False", func() (bool, string) {
		msg := checkErr(check)
		return strings.Contains(msg, "Ready is False (DoesNotExist: Issuing certificate as Secret does not exist)"), msg
	})
	if !logs.find("Waiting for cert-manager Certificate to be Ready", "DoesNotExist") {
		t.Error("no log line gives cert-manager's reason")
	}

	setReady(cmmeta.ConditionTrue, "Ready", "Certificate is up to date and has not expired")
	eventually(t, "ready once the Certificate is Ready", func() (bool, string) {
		msg := checkErr(check)
		return msg == "", msg
	})
	if !logs.find("cert-manager Certificate is Ready", ns+"/serving-cert") {
		t.Error("no log line says the Certificate became Ready")
	}

	// Readiness gates the start only: a renewal failing later does not take
	// the replica, whose certificate is still valid, out of its Service.
	setReady(cmmeta.ConditionFalse, "Failed", "renewal failed")
	time.Sleep(200 * time.Millisecond)
	if msg := checkErr(check); msg != "" {
		t.Errorf("not ready again after Ready turned False: %s", msg)
	}
}

func TestCertManagerReadinessWantsReadyForTheCurrentGeneration(t *testing.T) {
	crt := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
	for _, tc := range []struct {
		name     string
		status   cmmeta.ConditionStatus
		observed int64
		want     bool
	}{
		{"Ready True for the current generation is ready", cmmeta.ConditionTrue, 3, true},
		{"Ready True for an older generation is not ready", cmmeta.ConditionTrue, 2, false},
		{"Ready False is not ready", cmmeta.ConditionFalse, 3, false},
		{"Ready Unknown is not ready", cmmeta.ConditionUnknown, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crt.Status.Conditions = []cmapi.CertificateCondition{{Type: cmapi.CertificateConditionReady, Status: tc.status, ObservedGeneration: tc.observed}}
			if got := isReady(crt); got != tc.want {
				t.Errorf("isReady = %v, want %v (%s)", got, tc.want, readyConditionSummary(crt))
			}
		})
	}
}

func TestFilesModeNeedsNothing(t *testing.T) {
	mgr, err := manager.New(env.Config, manager.Options{Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	check, err := Setup(context.Background(), mgr, Options{})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if err := check(nil); err != nil {
		t.Errorf("files mode not ready: %v", err)
	}
	if _, err := Setup(context.Background(), mgr, Options{Mode: "bogus"}); err == nil {
		t.Error("Setup accepted an unknown mode")
	}
}
