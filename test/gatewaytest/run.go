package gatewaytest

import "context"

// runner runs a blocking Start method (a manager's, a cache's) until it is
// stopped.
type runner struct {
	cancel context.CancelFunc
	// finished is closed once Start has returned err.
	finished chan struct{}
	err      error
}

// run calls start in a goroutine with a context that stop cancels.
func run(start func(context.Context) error) *runner {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{cancel: cancel, finished: make(chan struct{})}
	go func() {
		defer close(r.finished)
		r.err = start(ctx)
	}()
	return r
}

// stop cancels the context and returns what start returned, once it has;
// stopping again returns the same.
func (r *runner) stop() error {
	r.cancel()
	<-r.finished
	return r.err
}
