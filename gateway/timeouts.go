package gateway

import (
	"time"

	"github.com/rrguard/rrguard/counter"
	"github.com/rrguard/rrguard/gateway/pipeline"
)

// answerMargin is what an answer may take after the pipeline's last API
// call: encoding and writing it.
const answerMargin = 2 * time.Second

// AnswerTimeout is the latest a request is answered, from when its headers
// were read, with the given timeouts (0 for the defaults): its deadline
// (authentication, the body and counting all run within it), then
// counter.Overrun — the API call in flight at the deadline and the calls
// that settle a status write whose answer was lost — then writing the
// answer. With the defaults, 15s + 4×5s + 2s = 37s. The signal API's write
// timeout and its drain on shutdown are this long: an answer cut off after
// its signal was counted would make the sender count it twice.
func AnswerTimeout(requestTimeout, callTimeout time.Duration) time.Duration {
	if requestTimeout <= 0 {
		requestTimeout = pipeline.DefaultTimeout
	}
	return requestTimeout + counter.Overrun(callTimeout) + answerMargin
}

// ShutdownTimeout is the manager's graceful shutdown timeout for a gateway
// whose requests have requestTimeout: the signal API's drain
// (AnswerTimeout) and 5s for the rest to stop. A pod's
// terminationGracePeriodSeconds must be at least this (45s in manifests/
// for the default 42s).
func ShutdownTimeout(requestTimeout time.Duration) time.Duration {
	return AnswerTimeout(requestTimeout, 0) + 5*time.Second
}
