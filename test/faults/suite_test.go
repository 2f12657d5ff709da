package faults_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rrguard/rrguard/dedup"
	"github.com/rrguard/rrguard/test/gatewaytest"
	"github.com/rrguard/rrguard/test/load"
	"github.com/rrguard/rrguard/test/webhooktest"
)

// The suite's control plane has rrguard's webhook registered (failurePolicy
// Fail) and served; tests that stop or replace it get it back.
var suite = &webhooktest.Suite{}

func TestMain(m *testing.M) { suite.Main(m, nil) }

func startGateway(t *testing.T, ns string) *gatewaytest.Instance {
	t.Helper()
	return gatewaytest.StartForTest(t, gatewaytest.Options{Config: suite.Config, Scheme: suite.Scheme, Namespace: ns})
}

var httpClient = &http.Client{
	Timeout:   60 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 256},
}

// sent is one signal of a storm and what it got.
type sent struct {
	target load.Target
	resp   load.Response
	at     time.Time
}

// storm posts signals from workers goroutines until stopped, to the
// gateways in urls round-robin; target(i) says what signal i is about.
type storm struct {
	target func(i int) load.Target

	mu   sync.Mutex
	urls []string
	next int
	log  []sent

	stop chan struct{}
	wg   sync.WaitGroup
}

func startStorm(urls []string, workers int, target func(i int) load.Target) *storm {
	s := &storm{target: target, urls: urls, stop: make(chan struct{})}
	for range workers {
		s.wg.Go(func() {
			for {
				select {
				case <-s.stop:
					return
				default:
				}
				s.mu.Lock()
				i := s.next
				s.next++
				url := s.urls[i%len(s.urls)]
				s.mu.Unlock()
				t := s.target(i)
				r := load.Send(context.Background(), httpClient, url, "", t, load.Payload(t))
				s.mu.Lock()
				s.log = append(s.log, sent{target: t, resp: r, at: time.Now()})
				s.mu.Unlock()
			}
		})
	}
	return s
}

// setURLs changes where the next signals go, as a Service drops an
// endpoint.
func (s *storm) setURLs(urls ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.urls = urls
}

// waitFor waits until n signals answered since since satisfy ok.
func (s *storm) waitFor(t *testing.T, n int, since time.Time, what string, ok func(sent) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := 0
		s.mu.Lock()
		for _, x := range s.log {
			if !x.at.Before(since) && ok(x) {
				got++
			}
		}
		s.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("storm: %d of %d %s after 30s", got, n, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// halt stops the storm, waits for the signals in flight, and returns
// everything sent.
func (s *storm) halt() []sent {
	close(s.stop)
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log
}

func isOK(x sent) bool { return x.resp.OK() }

// resend sends every signal of failed again to url, each until it is
// answered 2xx (as a sender honouring Retry-After would, but sooner), and
// returns the answers; it fails the test if one is never counted.
func resend(t *testing.T, url string, failed []sent) []sent {
	t.Helper()
	out := make([]sent, len(failed))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, f := range failed {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			// A sender keeps re-sending. An admission cut off by the
			// outage between its claim and its answer leaves a claim
			// naming a request never stored, which blocks its
			// fingerprint for up to the grace (docs/design.md, section
			// 7); re-sends meanwhile are answered 503. So a re-send is
			// given the grace and 30 s more to be counted.
			deadline := time.Now().Add(dedup.DefaultClaimGrace + 30*time.Second)
			for {
				r := load.Send(context.Background(), httpClient, url, "", f.target, load.Payload(f.target))
				out[i] = sent{target: f.target, resp: r, at: time.Now()}
				if r.OK() || time.Now().After(deadline) {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	for _, x := range out {
		if !x.resp.OK() {
			t.Fatalf("a re-sent signal about %s was never counted: %d %v", x.target.Deployment, x.resp.Code, x.resp.Err)
		}
	}
	return out
}

// split returns the signals answered 2xx and the others.
func split(log []sent) (ok, failed []sent) {
	for _, x := range log {
		if x.resp.OK() {
			ok = append(ok, x)
		} else {
			failed = append(failed, x)
		}
	}
	return ok, failed
}

// counted returns the 2xx answers per fingerprint, with every fingerprint
// the signals were about present (0 when none was counted).
func counted(logs ...[]sent) map[string]int64 {
	out := map[string]int64{}
	for _, log := range logs {
		for _, x := range log {
			out[x.target.Fingerprint] += 0
			if x.resp.OK() {
				out[x.target.Fingerprint]++
			}
		}
	}
	return out
}

// verify asserts the rules on the API server: no fingerprint with two
// active requests, every stored count equal to the 2xx answers for it.
func verify(t *testing.T, ns string, logs ...[]sent) load.Check {
	t.Helper()
	c, err := load.Verify(context.Background(), suite.Client, ns, counted(logs...))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("check: %s", c)
	if err := c.Err(); err != nil {
		t.Error(err)
	}
	return c
}
