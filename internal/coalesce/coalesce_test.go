package coalesce

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type item struct {
	n    int
	done chan int // the size of the batch the item ran in
}

func TestItemsAddedWhileABatchRunsFormTheNextBatch(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	var batches [][]int
	var mu sync.Mutex
	g := New(func(_ string, batch []item) {
		mu.Lock()
		ns := make([]int, 0, len(batch))
		for _, it := range batch {
			ns = append(ns, it.n)
		}
		batches = append(batches, ns)
		first := len(batches) == 1
		mu.Unlock()
		if first {
			started <- struct{}{}
			<-release
		}
		for _, it := range batch {
			it.done <- len(batch)
		}
	})

	first := item{n: 0, done: make(chan int, 1)}
	g.Add("k", first)
	<-started // the first batch is running and holds the key
	rest := make([]item, 5)
	for i := range rest {
		rest[i] = item{n: i + 1, done: make(chan int, 1)}
		g.Add("k", rest[i])
	}
	close(release)

	if got := <-first.done; got != 1 {
		t.Errorf("first item ran in a batch of %d, want 1", got)
	}
	for _, it := range rest {
		if got := <-it.done; got != 5 {
			t.Errorf("item %d ran in a batch of %d, want 5", it.n, got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	want := [][]int{{0}, {1, 2, 3, 4, 5}}
	if len(batches) != len(want) {
		t.Fatalf("batches %v, want %v", batches, want)
	}
	for i := range want {
		for j := range want[i] {
			if batches[i][j] != want[i][j] {
				t.Fatalf("batches %v, want %v (order of arrival kept)", batches, want)
			}
		}
	}
	waitRunnersGone(t, g)
}

// TestOneBatchAtATimePerKeyAndKeysInParallel adds from many goroutines and
// checks that no key ever has two batches running, that different keys do
// run at once, and that every item runs exactly once.
func TestOneBatchAtATimePerKeyAndKeysInParallel(t *testing.T) {
	const keys, perKey = 8, 200
	var running [keys]atomic.Int32
	var overlap, seen atomic.Int32
	var parallel atomic.Int32
	var inFlight atomic.Int32
	g := New(func(key string, batch []item) {
		k := int(key[0] - 'a')
		if running[k].Add(1) != 1 {
			overlap.Add(1)
		}
		if inFlight.Add(1) > 1 {
			parallel.Store(1)
		}
		time.Sleep(200 * time.Microsecond)
		inFlight.Add(-1)
		running[k].Add(-1)
		for _, it := range batch {
			seen.Add(1)
			it.done <- len(batch)
		}
	})
	var wg sync.WaitGroup
	for k := range keys {
		for range perKey {
			wg.Go(func() {
				it := item{done: make(chan int, 1)}
				g.Add(string(rune('a'+k)), it)
				<-it.done
			})
		}
	}
	wg.Wait()
	if n := overlap.Load(); n != 0 {
		t.Errorf("%d batches started while another batch of the same key ran", n)
	}
	if parallel.Load() == 0 {
		t.Errorf("batches of different keys never ran at the same time")
	}
	if n := seen.Load(); n != keys*perKey {
		t.Errorf("%d items ran, want %d", n, keys*perKey)
	}
	waitRunnersGone(t, g)
}

func waitRunnersGone(t *testing.T, g *Group[item]) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.mu.Lock()
		n := len(g.pending)
		g.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d runners still alive after their last batch", n)
		}
		time.Sleep(time.Millisecond)
	}
}
