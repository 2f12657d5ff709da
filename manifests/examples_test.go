package manifests

import (
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/gateway"
	"github.com/rrguard/rrguard/gateway/httpapi"
)

// alertmanagerReceiver is what the example Alertmanager configuration says
// about rrguard's receiver.
type alertmanagerReceiver struct {
	Receivers []struct {
		Name           string `json:"name"`
		WebhookConfigs []struct {
			URL        string `json:"url"`
			HTTPConfig struct {
				Authorization struct {
					CredentialsFile string `json:"credentials_file"`
				} `json:"authorization"`
				TLSConfig struct {
					CAFile string `json:"ca_file"`
				} `json:"tls_config"`
			} `json:"http_config"`
		} `json:"webhook_configs"`
	} `json:"receivers"`
}

// The Alertmanager example fits the gateway it is for: the URL is the
// gateway's Service over TLS, a name its certificate is issued for; the
// token file is a projected token for the audience the gateway requires;
// the CA file is the ca.crt of the gateway's Secret. (e2e runs a real
// Alertmanager on this very configuration.)
func TestTheAlertmanagerExampleFitsTheGateway(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("examples", "alertmanager", "alertmanager.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg alertmanagerReceiver
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Receivers) != 1 || len(cfg.Receivers[0].WebhookConfigs) != 1 {
		t.Fatalf("receivers %+v, want one with one webhook", cfg.Receivers)
	}
	wc := cfg.Receivers[0].WebhookConfigs[0]

	b := build(t, "default")
	u, err := url.Parse(wc.URL)
	if err != nil {
		t.Fatal(err)
	}
	svc := get[corev1.Service](t, b, "Service", gateway.DefaultServiceName)
	crt := b.find("Certificate", gateway.DefaultCertificateName)
	dnsNames, _, _ := unstructured.NestedStringSlice(crt.Object, "spec", "dnsNames")
	if u.Scheme != "https" || u.Host != svc.Name+"."+svc.Namespace+".svc" || u.Path != httpapi.PrometheusPath || !slices.Contains(dnsNames, u.Host) {
		t.Errorf("url %s, want https://%s.%s.svc%s, a name of the certificate %v", wc.URL, svc.Name, svc.Namespace, httpapi.PrometheusPath, dnsNames)
	}

	raw, err = os.ReadFile(filepath.Join("examples", "alertmanager", "alertmanager_volumes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var am struct {
		Spec struct {
			Volumes      []corev1.Volume      `json:"volumes"`
			VolumeMounts []corev1.VolumeMount `json:"volumeMounts"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &am); err != nil {
		t.Fatal(err)
	}
	mountOf := func(file string) (corev1.Volume, bool) {
		for _, m := range am.Spec.VolumeMounts {
			if m.MountPath == path.Dir(file) {
				for _, v := range am.Spec.Volumes {
					if v.Name == m.Name {
						return v, true
					}
				}
			}
		}
		return corev1.Volume{}, false
	}

	gw := get[appsv1.Deployment](t, b, "Deployment", "rrguard-gateway")
	tokenVol, ok := mountOf(wc.HTTPConfig.Authorization.CredentialsFile)
	if !ok || tokenVol.Projected == nil || len(tokenVol.Projected.Sources) != 1 || tokenVol.Projected.Sources[0].ServiceAccountToken == nil {
		t.Fatalf("credentials_file %s is not in a projected token volume: %+v", wc.HTTPConfig.Authorization.CredentialsFile, tokenVol)
	}
	sat := tokenVol.Projected.Sources[0].ServiceAccountToken
	if sat.Audience != httpapi.DefaultAudience || !hasArg(gw.Spec.Template.Spec.Containers[0], "--token-audiences="+sat.Audience) ||
		sat.Path != path.Base(wc.HTTPConfig.Authorization.CredentialsFile) {
		t.Errorf("projected token %+v: want audience %s, which the gateway requires, at %s", sat, httpapi.DefaultAudience, wc.HTTPConfig.Authorization.CredentialsFile)
	}
	caVol, ok := mountOf(wc.HTTPConfig.TLSConfig.CAFile)
	if !ok || caVol.ConfigMap == nil || path.Base(wc.HTTPConfig.TLSConfig.CAFile) != certs.CACertFile {
		t.Errorf("ca_file %s: want %s of a mounted ConfigMap, got volume %+v", wc.HTTPConfig.TLSConfig.CAFile, certs.CACertFile, caVol)
	}
}
