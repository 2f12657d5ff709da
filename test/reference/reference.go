package reference

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Flag is one command-line flag as the reference states it: its name
// without dashes, the Go type of its value (flag's own types by their short
// names: string, int, int64, bool, duration, func), and its default as
// --help prints it.
type Flag struct{ Name, Type, Default string }

// Metric is one metric as the reference states it.
type Metric struct {
	Name string
	// Type is counter, gauge, histogram or summary.
	Type string
	// Labels are its variable labels, in their order.
	Labels []string
}

// Path is the reference's path from the repository root.
const Path = "docs/reference.md"

// Flags returns the flags of fs, sorted by name.
func Flags(fs *flag.FlagSet) []Flag {
	var flags []Flag
	fs.VisitAll(func(f *flag.Flag) {
		flags = append(flags, Flag{Name: f.Name, Type: flagType(f), Default: flagDefault(f)})
	})
	return flags
}

func flagType(f *flag.Flag) string {
	t := strings.TrimPrefix(fmt.Sprintf("%T", f.Value), "*")
	if short, ok := strings.CutPrefix(t, "flag."); ok {
		return strings.TrimSuffix(short, "Value")
	}
	return t
}

// quotedDefault is how a flag.Func flag, which has no default of its own,
// states one in its usage.
var quotedDefault = regexp.MustCompile(`\(default "([^"]*)"\)$`)

// flagDefault is f's default, with the machine's temporary directory
// written $TMPDIR.
func flagDefault(f *flag.Flag) string {
	d := f.DefValue
	if m := quotedDefault.FindStringSubmatch(f.Usage); d == "" && m != nil {
		d = m[1]
	}
	if tmp := os.TempDir(); d != "" && strings.HasPrefix(d, tmp) {
		d = "$TMPDIR" + strings.TrimPrefix(d, tmp)
	}
	return d
}

// recorder passes registrations on to a fresh registry and keeps every
// collector registered, vectors without a series included.
type recorder struct {
	*prometheus.Registry
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registry.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Metrics returns the metrics register registers, sorted by name: register
// does what a binary's setup does with its registerer.
func Metrics(register func(prometheus.Registerer)) ([]Metric, error) {
	r := &recorder{Registry: prometheus.NewRegistry()}
	register(r)
	var metrics []Metric
	for _, c := range r.collectors {
		typ, err := metricType(c)
		if err != nil {
			return nil, err
		}
		descs := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(descs); close(descs) }()
		for d := range descs {
			name, labels, err := parseDesc(d)
			if err != nil {
				return nil, err
			}
			metrics = append(metrics, Metric{Name: name, Type: typ, Labels: labels})
		}
	}
	slices.SortFunc(metrics, func(a, b Metric) int { return strings.Compare(a.Name, b.Name) })
	return metrics, nil
}

// metricType tells a vector by its Go type and a single metric by the
// sample it writes.
func metricType(c prometheus.Collector) (string, error) {
	switch c.(type) {
	case *prometheus.CounterVec:
		return "counter", nil
	case *prometheus.GaugeVec:
		return "gauge", nil
	case *prometheus.HistogramVec:
		return "histogram", nil
	case *prometheus.SummaryVec:
		return "summary", nil
	}
	m, ok := c.(prometheus.Metric)
	if !ok {
		// A collector of its own: the type of the sample it writes.
		samples := make(chan prometheus.Metric, 16)
		go func() { c.Collect(samples); close(samples) }()
		for sample := range samples {
			m = sample
		}
		if m == nil {
			return "", fmt.Errorf("collector %T writes no sample", c)
		}
	}
	var s dto.Metric
	if err := m.Write(&s); err != nil {
		return "", fmt.Errorf("write %T: %w", c, err)
	}
	switch {
	case s.Counter != nil:
		return "counter", nil
	case s.Gauge != nil:
		return "gauge", nil
	case s.Histogram != nil:
		return "histogram", nil
	case s.Summary != nil:
		return "summary", nil
	}
	return "", fmt.Errorf("metric %T writes no known type", c)
}

// descFields reads a Desc's name and variable labels from its String,
// client_golang's only way to show them.
var descFields = regexp.MustCompile(`^Desc\{fqName: "([^"]+)", .*variableLabels: \{([^}]*)\}\}$`)

func parseDesc(d *prometheus.Desc) (string, []string, error) {
	m := descFields.FindStringSubmatch(d.String())
	if m == nil {
		return "", nil, fmt.Errorf("cannot read the name and labels of %s", d)
	}
	var labels []string
	for l := range strings.SplitSeq(m[2], ",") {
		if l != "" {
			labels = append(labels, l)
		}
	}
	return m[1], labels, nil
}
