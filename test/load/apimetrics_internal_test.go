package load

import (
	"bufio"
	"strings"
	"testing"
)

func TestSumCounterAddsEverySeriesOfTheCounterOnly(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       float64
		wantErr    bool
	}{
		{"series with labels and one without", `# HELP apiserver_request_total x
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",verb="GET"} 12
apiserver_request_total{code="409",verb="PUT",resource="a}b"} 3
apiserver_request_total 5
apiserver_request_total_other{code="200"} 100
apiserver_request_duration_seconds_sum 7
`, 20, false},
		{"an exponent", `apiserver_request_total{code="201"} 1.5e+03`, 1500, false},
		{"the counter missing", `go_goroutines 12`, 0, true},
		{"a broken value", `apiserver_request_total{code="200"} many`, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sumCounter(bufio.NewScanner(strings.NewReader(tc.text)), "apiserver_request_total")
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("sumCounter = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
