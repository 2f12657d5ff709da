//go:build kubernautcheck

package kubernautcheck

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/rrguard/rrguard/test/testenv"
)

// client posts notifications; one connection per concurrent request.
var httpClient = &http.Client{
	Timeout:   60 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0},
}

// notification is an Alertmanager webhook (v4) notification about one pod
// of alertNS: the incident is the pod. startsAt is when it began firing;
// every copy of one incident's notification is identical.
func notification(pod string, startsAt time.Time) []byte {
	return fmt.Appendf(nil, `{"version":"4","groupKey":"{}:{alertname=\"KubePodCrashLooping\"}","status":"firing","receiver":"kubernaut",`+
		`"groupLabels":{"alertname":"KubePodCrashLooping"},"commonLabels":{"alertname":"KubePodCrashLooping","namespace":%[1]q,"pod":%[2]q,"severity":"critical"},`+
		`"commonAnnotations":{"summary":"pod is crash looping"},"externalURL":"http://alertmanager.monitoring:9093","truncatedAlerts":0,`+
		`"alerts":[{"status":"firing","labels":{"alertname":"KubePodCrashLooping","namespace":%[1]q,"pod":%[2]q,"severity":"critical"},`+
		`"annotations":{"summary":"pod is crash looping"},"startsAt":%[3]q,"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.monitoring:9090/graph","fingerprint":"c0ffee%04[4]x"}]}`,
		alertNS, pod, startsAt.UTC().Format(time.RFC3339Nano), len(pod))
}

// answer is what one notification came to: the status of its last
// attempt (0: no answer) and how many attempts it took.
type answer struct {
	code     int
	attempts int
}

// send posts body to url, and with -resend-5xx sends it again after a 5xx
// or no answer, backing off as Alertmanager's notifier does, for at most
// -resend-for.
func (r *rig) send(url string, body []byte) answer {
	b := backoff{next: 500 * time.Millisecond}
	deadline := time.Now().Add(*resendFor)
	for attempt := 1; ; attempt++ {
		code := r.post(url, body)
		if code != 0 && code < 500 || !*resend5xx {
			return answer{code, attempt}
		}
		wait := b.step()
		if time.Now().Add(wait).After(deadline) {
			return answer{code, attempt}
		}
		time.Sleep(wait)
	}
}

func (r *rig) post(url string, body []byte) int {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.senderToken)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// backoff is Alertmanager's: github.com/cenkalti/backoff's exponential
// defaults (500 ms, x1.5, ±50 % jitter, at most 60 s between attempts).
type backoff struct{ next time.Duration }

func (b *backoff) step() time.Duration {
	d := time.Duration(float64(b.next) * (0.5 + rand.Float64()))
	b.next = min(time.Duration(float64(b.next)*1.5), 60*time.Second)
	return d
}

// burstOf posts n identical notifications about pod at once, alternating
// over the replicas, and returns their answers.
func (r *rig) burstOf(pod string, startsAt time.Time, n int) []answer {
	body := notification(pod, startsAt)
	out := make([]answer, n)
	testenv.AtOnce(n, func(i int) { out[i] = r.send(r.urls[i%len(r.urls)], body) })
	return out
}

// roundResult is one round: an incident, its notifications' answers.
type roundResult struct {
	pod     string
	answers []answer
}

func runRound(r *rig, pod string) roundResult {
	return roundResult{pod: pod, answers: r.burstOf(pod, time.Now(), *burst)}
}

// stormLog collects the answers of the outage storm by incident.
type stormLog struct {
	mu      sync.Mutex
	answers map[string][]answer
	// during are the incidents first posted while the webhook was down.
	during map[string]bool
}

func (s *stormLog) add(pod string, a []answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[pod] = append(s.answers[pod], a...)
}
