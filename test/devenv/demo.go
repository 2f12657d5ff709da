package devenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"text/tabwriter"

	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
	"github.com/rrguard/rrguard/internal/kube"
)

// sampleAlert is an Alertmanager v4 payload with one firing alert about
// Deployment <deployment> in namespace payments.
func sampleAlert(deployment string) string {
	return `{"version":"4","groupKey":"{}:{alertname=\"KubeDeploymentReplicasMismatch\"}","status":"firing","receiver":"rrguard",` +
		`"groupLabels":{"alertname":"KubeDeploymentReplicasMismatch"},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://alertmanager","truncatedAlerts":0,` +
		`"alerts":[{"status":"firing","labels":{"alertname":"KubeDeploymentReplicasMismatch","severity":"critical","namespace":"payments","deployment":"` + deployment + `"},` +
		`"annotations":{"summary":"replicas mismatch"},"startsAt":"2026-11-26T05:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus","fingerprint":"a1b2c3"}]}`
}

// Demo posts n identical alerts at once to the gateway at gatewayURL,
// verifying its certificate with the CA in caFile, prints how they were
// answered, then the RemediationRequests in namespace as a table.
func Demo(ctx context.Context, gatewayURL, caFile, kubeconfig, namespace string, n int, out io.Writer) error {
	httpClient, err := trusting(caFile)
	if err != nil {
		return err
	}
	body := []byte(sampleAlert("checkout"))
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gatewayURL+"/api/v1/signals/prometheus", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := httpClient.Do(req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[resp.StatusCode]++
		})
	}
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("post alerts (is `make run` running?): %w", firstErr)
	}
	fmt.Fprintf(out, "posted %d identical alerts at once; answers by HTTP status: %v\n\n", n, codes)

	return printRequests(ctx, kubeconfig, namespace, out)
}

// trusting returns an HTTP client that trusts the certificates in caFile.
func trusting(caFile string) (*http.Client, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("the gateway's CA (is `make run` running?): %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

// printRequests prints the RemediationRequests in namespace as a table.
func printRequests(ctx context.Context, kubeconfig, namespace string, out io.Writer) error {
	cfg, err := kube.LoadConfig(kubeconfig)
	if err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: kube.NewScheme()})
	if err != nil {
		return err
	}
	list := &v1alpha1.RemediationRequestList{}
	if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return fmt.Errorf("list remediationrequests: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPHASE\tFINGERPRINT\tOCCURRENCES")
	for _, rr := range list.Items {
		phase := string(rr.Status.OverallPhase)
		if phase == "" {
			phase = "<none>"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", rr.Name, phase, rr.Spec.SignalFingerprint, rr.Status.GetDeduplication().OccurrenceCount)
	}
	return tw.Flush()
}
