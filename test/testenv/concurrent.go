package testenv

import "sync"

// AtOnce calls f(0) … f(n-1), each in a goroutine of its own, all released
// by one signal once they exist, and returns when every call has returned:
// as much contention as n callers can make.
func AtOnce(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}
