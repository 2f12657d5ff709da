package coalesce

import "sync"

// Group batches items per key and hands each batch to its run function. It
// is safe for concurrent use. The zero Group is not usable; call New.
type Group[T any] struct {
	run func(key string, batch []T)

	mu sync.Mutex
	// pending holds, for every key whose runner is alive, the items that
	// arrived since its current batch was taken.
	pending map[string][]T
}

// New returns a Group that calls run with each batch. run is called on a
// goroutine of the Group's, never twice at once for one key, with the items
// in the order they were added; it must deliver each item's outcome itself
// (items usually carry a channel).
func New[T any](run func(key string, batch []T)) *Group[T] {
	return &Group[T]{run: run, pending: map[string][]T{}}
}

// Add queues item for key. It starts the key's runner when none is alive;
// otherwise the item joins the next batch, which is taken only after the
// running one has returned — so an item's batch never starts before the item
// was added, and whatever the batch reads is at least as fresh as the item.
func (g *Group[T]) Add(key string, item T) {
	g.mu.Lock()
	items, running := g.pending[key]
	g.pending[key] = append(items, item)
	g.mu.Unlock()
	if !running {
		go g.loop(key)
	}
}

// loop runs key's batches until none is left.
func (g *Group[T]) loop(key string) {
	for {
		g.mu.Lock()
		batch := g.pending[key]
		if len(batch) == 0 {
			delete(g.pending, key)
			g.mu.Unlock()
			return
		}
		g.pending[key] = nil // still present: the runner is alive
		g.mu.Unlock()
		g.run(key, batch)
	}
}

// Drain takes the items waiting for key's next batch, for a run function
// that can settle them with the outcome of the batch it is running. It is
// meant to be called from run; the items are no longer the Group's.
func (g *Group[T]) Drain(key string) []T {
	g.mu.Lock()
	defer g.mu.Unlock()
	items := g.pending[key]
	if _, running := g.pending[key]; running {
		g.pending[key] = nil
	}
	return items
}

// Waiting returns how many items for key wait for its next batch (not
// counting the batch running).
func (g *Group[T]) Waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending[key])
}
