package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// WriteFault is what a FaultyWrites transport does to one status write.
type WriteFault int

// The faults. Every one but NotSent lets the write reach the API server,
// which stores it: only its answer goes wrong on the way back.
const (
	// Untouched: the write and its answer go through.
	Untouched WriteFault = iota
	// AnswerLost: the write lands and its answer is lost, as on a
	// connection reset or a client timeout.
	AnswerLost
	// AnswerTimeout: the write lands and the answer is the API server's
	// 504 Timeout.
	AnswerTimeout
	// LandsAfterTimeout: the answer is a 504 Timeout at once, and the
	// write lands a moment later, as when the API server times a request
	// out while its write to etcd goes on.
	LandsAfterTimeout
	// SentTwice: the write lands, its answer is lost, and this transport
	// sends the same request again, as client-go does after a 5xx carrying
	// Retry-After; the answer is the second send's (a Conflict). The resend
	// happens here, below whatever wraps this transport: a send counter
	// wrapped around it (counter.CountSends, as the gateway wires it)
	// sees one send.
	SentTwice
	// NotSent: the connection fails before the write reaches the server.
	NotSent
	// ResentByClient: the write lands and its answer is a 500 carrying
	// Retry-After, as from an API server that stored it and then timed out
	// waiting on etcd; client-go sends the same write again on its own,
	// through every transport wrapped around this one, and that resend is
	// a status write like any other here. Untouched, its answer is a
	// Conflict.
	ResentByClient
)

func (f WriteFault) String() string {
	return [...]string{"untouched", "answer lost", "answer 504", "lands after a 504", "sent twice", "not sent", "resent by client-go"}[f]
}

// ErrInjected is the transport error of a lost answer.
var ErrInjected = errors.New("injected: connection reset by peer")

// FaultyWrites is a transport in front of the real API server that makes
// status writes (PUT or PATCH of a .../status subresource) suffer the fault
// Fault returns for them; n counts the status writes from 1. Every other
// request goes through untouched. With Delay, every answer about a
// namespaced object comes Delay late (discovery, once per client, does
// not). After, when set, runs once a faulted write has
// gone (or not, for NotSent), before its answer returns: what another
// writer does meanwhile.
type FaultyWrites struct {
	Fault func(n int64) WriteFault
	After func(n int64, f WriteFault)
	Delay time.Duration
	// Watches counts the watch requests that went through.
	Watches atomic.Int64
	writes  atomic.Int64
}

// Wrap is for rest.Config.Wrap.
func (f *FaultyWrites) Wrap(rt http.RoundTripper) http.RoundTripper {
	return RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Query().Get("watch") == "true" {
			f.Watches.Add(1)
		}
		resp, err := f.roundTrip(rt, r)
		if f.Delay > 0 && strings.Contains(r.URL.Path, "/namespaces/") {
			time.Sleep(f.Delay)
		}
		return resp, err
	})
}

func (f *FaultyWrites) roundTrip(rt http.RoundTripper, r *http.Request) (*http.Response, error) {
	if f.Fault == nil || (r.Method != http.MethodPut && r.Method != http.MethodPatch) || !strings.HasSuffix(r.URL.Path, "/status") {
		return rt.RoundTrip(r)
	}
	n := f.writes.Add(1)
	fault := f.Fault(n)
	if fault == Untouched {
		return rt.RoundTrip(r)
	}
	if f.After != nil {
		defer f.After(n, fault)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	send := func() (*http.Response, error) {
		c := r.Clone(r.Context())
		c.Body = io.NopCloser(bytes.NewReader(body))
		return rt.RoundTrip(c)
	}
	switch fault {
	case NotSent:
		return nil, ErrInjected
	case LandsAfterTimeout:
		go func() {
			time.Sleep(50 * time.Millisecond)
			if resp, err := send(); err == nil {
				drain(resp)
			}
		}()
		return timeoutAnswer(r), nil
	}
	resp, err := send()
	if err != nil {
		return nil, err
	}
	drain(resp)
	switch fault {
	case AnswerTimeout:
		return timeoutAnswer(r), nil
	case SentTwice:
		return send()
	case ResentByClient:
		return retryAfterAnswer(r), nil
	}
	return nil, ErrInjected
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
}

// timeoutAnswer is the API server's answer to a request it timed out.
func timeoutAnswer(r *http.Request) *http.Response {
	body := fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server was unable to return a response in the time allotted, but may still be processing the request","reason":"Timeout","details":{},"code":%d}`, http.StatusGatewayTimeout)
	return statusAnswer(r, http.StatusGatewayTimeout, body, http.Header{})
}

// retryAfterAnswer is the API server's answer to a write whose storage
// timed out, with the Retry-After that makes client-go send it again.
func retryAfterAnswer(r *http.Request) *http.Response {
	body := fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Timeout: request did not complete within the allotted timeout","reason":"Timeout","details":{},"code":%d}`, http.StatusInternalServerError)
	return statusAnswer(r, http.StatusInternalServerError, body, http.Header{"Retry-After": []string{"0"}})
}

func statusAnswer(r *http.Request, code int, body string, h http.Header) *http.Response {
	h.Set("Content-Type", "application/json")
	return &http.Response{
		Status:     fmt.Sprintf("%d %s", code, http.StatusText(code)),
		StatusCode: code,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}
}
