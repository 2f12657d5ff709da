package manifests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/rrguard/rrguard/certs"
	"github.com/rrguard/rrguard/gateway/httpapi"
	"github.com/rrguard/rrguard/gateway/pipeline"
	"github.com/rrguard/rrguard/scan"
	"github.com/rrguard/rrguard/test/testenv"
	"github.com/rrguard/rrguard/webhook"
)

// promtool is the promtool hack/testbin.sh builds (make testbin), of the
// version tools/promtool pins.
func promtool(t *testing.T) string {
	t.Helper()
	mod, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "tools", "promtool", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^require github.com/prometheus/prometheus (\S+)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("tools/promtool/go.mod pins no github.com/prometheus/prometheus")
	}
	bin := filepath.Join(testenv.RepoRoot(), "bin", "promtool-"+string(m[1]), "promtool")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("promtool is not built (make testbin builds it): %v", err)
	}
	return bin
}

// The PrometheusRule's rules pass `promtool check rules` and the unit tests
// in rules_test.yaml, which promtool runs on the rules as the PrometheusRule
// carries them (its spec).
func TestAlertingRules(t *testing.T) {
	bin := promtool(t)
	dir := filepath.Join(testenv.RepoRoot(), "manifests", "components", "prometheus-rules")
	raw, err := os.ReadFile(filepath.Join(dir, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Kind string         `json:"kind"`
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &rule); err != nil || rule.Kind != "PrometheusRule" {
		t.Fatalf("prometheusrule.yaml: kind %q, %v", rule.Kind, err)
	}
	spec, err := yaml.Marshal(rule.Spec)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	tests, err := os.ReadFile(filepath.Join(dir, "rules_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"rules.yaml": spec, "rules_test.yaml": tests} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", "rules_test.yaml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Every alert of the PrometheusRule has a unit test.
func TestEveryAlertIsUnitTested(t *testing.T) {
	dir := filepath.Join(testenv.RepoRoot(), "manifests", "components", "prometheus-rules")
	rules, err := os.ReadFile(filepath.Join(dir, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(dir, "rules_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	alerts := regexp.MustCompile(`(?m)^\s*- alert: (\S+)$`).FindAllSubmatch(rules, -1)
	if len(alerts) == 0 {
		t.Fatal("no alerts in prometheusrule.yaml")
	}
	for _, a := range alerts {
		if !strings.Contains(string(tests), "alertname: "+string(a[1])+"\n") {
			t.Errorf("alert %s has no test in rules_test.yaml", a[1])
		}
	}
}

// registeredMetrics are the names of the series the binaries export: the
// metrics the webhook (webhook, scan) and the gateway (httpapi, pipeline)
// register, each binary's serving certificate gauge, and controller-
// runtime's own, as the binaries' registry gathers them.
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	reg := &describedRegistry{Registry: prometheus.NewRegistry(), names: map[string]bool{}}
	webhook.NewMetrics(reg)
	scan.NewMetrics(reg)
	httpapi.NewMetrics(reg)
	pipeline.NewMetrics(reg)
	if err := certs.RegisterExpiry(reg, certs.Options{CertDir: env.WebhookInstallOptions().LocalServingCertDir}); err != nil {
		t.Fatal(err)
	}
	names := reg.names
	// controller-runtime's registry, as the binaries serve it: its own
	// metrics and the Go and process collectors.
	for _, g := range []prometheus.Gatherer{crmetrics.Registry} {
		families, err := g.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			names[f.GetName()] = true
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					names[f.GetName()+s] = true
				}
			case dto.MetricType_SUMMARY:
				for _, s := range []string{"_sum", "_count"} {
					names[f.GetName()+s] = true
				}
			}
		}
	}
	return names
}

// describedRegistry records the names each registered collector describes,
// series or not yet (a vector whose labels come with its first event), with
// a histogram's series suffixes.
type describedRegistry struct {
	*prometheus.Registry
	names map[string]bool
}

var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (r *describedRegistry) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for d := range ch {
		m := descName.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		r.names[m[1]] = true
		switch c.(type) {
		case prometheus.Histogram, *prometheus.HistogramVec:
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				r.names[m[1]+s] = true
			}
		}
	}
	return nil
}

func (r *describedRegistry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

var (
	// promqlNoise is what a query holds besides metric names: label
	// matchers, groupings, strings, Grafana's variables, ranges.
	promqlNoise = regexp.MustCompile(`\{[^}]*\}|\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)|"[^"]*"|\$\w+|\[[^\]]*\]`)
	// promqlName is an identifier not followed by "(" (a function's).
	promqlName    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*\s*\(?`)
	promqlKeyword = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"}
)

// metricNames returns the metric names in a PromQL query.
func metricNames(query string) []string {
	var names []string
	for _, tok := range promqlName.FindAllString(promqlNoise.ReplaceAllString(query, " "), -1) {
		tok = strings.TrimSpace(tok)
		if strings.HasSuffix(tok, "(") || slices.Contains(promqlKeyword, strings.ToLower(tok)) {
			continue
		}
		names = append(names, tok)
	}
	return names
}

func TestMetricNamesOfAQuery(t *testing.T) {
	for query, want := range map[string][]string{
		`sum by (decision, reason) (rate(a_total[$__rate_interval]))`:                       {"a_total"},
		`histogram_quantile(0.99, sum by (le) (rate(b_bucket{code=~"5.."}[5m]))) / on(x) c`: {"b_bucket", "c"},
		`time() - max(d_seconds) and e > bool 0`:                                            {"d_seconds", "e"},
	} {
		if got := metricNames(query); !slices.Equal(got, want) {
			t.Errorf("metricNames(%s) = %v, want %v", query, got, want)
		}
	}
}

// Every query of the Grafana dashboard names at least one metric, and only
// metrics the binaries register.
func TestEveryDashboardQueryNamesARegisteredMetric(t *testing.T) {
	registered := registeredMetrics(t)
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "manifests", "components", "grafana-dashboard", "rrguard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	queries := 0
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			queries++
			names := metricNames(q.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q names no metric", p.Title, q.Expr)
			}
			for _, n := range names {
				if !registered[n] {
					t.Errorf("panel %q: %s is not registered by the binaries", p.Title, n)
				}
			}
		}
	}
	if queries == 0 {
		t.Fatal("the dashboard has no queries")
	}
}

// The monitoring components build on top of every variant, in an overlay
// as a user writes one, and add the PrometheusRule and the dashboard's
// ConfigMap (the overlay names their namespace, where Prometheus and Grafana
// look).
func TestTheMonitoringComponentsBuildWithEveryVariant(t *testing.T) {
	root := filepath.Join(testenv.RepoRoot(), "manifests")
	for _, v := range variants {
		t.Run(v.dir, func(t *testing.T) {
			// Beside the variants: kustomize takes relative paths only.
			dir, err := os.MkdirTemp(root, ".test-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			k := "resources:\n- ../" + v.dir + "\ncomponents:\n- ../components/prometheus-rules\n- ../components/grafana-dashboard\n"
			if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o600); err != nil {
				t.Fatal(err)
			}
			b := build(t, dir)
			for kind, name := range map[string]string{"PrometheusRule": "alerts", "ConfigMap": "grafana-dashboard"} {
				if b.find(kind, name) == nil {
					t.Errorf("no %s %s", kind, name)
				}
			}
			if cm := b.find("ConfigMap", "grafana-dashboard"); cm != nil && cm.GetLabels()["grafana_dashboard"] != "1" {
				t.Errorf("the dashboard's ConfigMap has labels %v, want grafana_dashboard=1", cm.GetLabels())
			}
		})
	}
}
