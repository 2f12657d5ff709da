package testenv

import "net/http"

// RoundTripperFunc is an http.RoundTripper made of a function: the
// transport wrappers tests hand to rest.Config.Wrap to count, record or
// break the requests a client sends.
type RoundTripperFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f.
func (f RoundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
