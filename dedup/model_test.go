package dedup

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/rrguard/rrguard/api/v1alpha1"
)

// The model test runs the real Guards and ClaimKeeper against an in-memory
// API server (resourceVersion preconditions, AlreadyExists, NotFound, UIDs,
// unique names) under a scheduler that lets one caller at a time make its
// next API call, in a seeded random order, among creates (with same-name
// retries and re-asked answers), admitted writes stored late or never,
// reactivations, ends, deletes, janitor sweeps at the minimum retention,
// failing and lagging Lists and a clock that jumps. After every stored
// write and at the end it checks:
//
//   - safety: an admitted request is never stored active beside another
//     active request of its fingerprint that was admitted, or that was
//     stored outside the webhook's reach, before the decision began, while
//     the fingerprint had neither claim nor active request (what steps C2,
//     C4 and C8 List for);
//   - liveness: with every write settled and no request of the fingerprint
//     active, a create is admitted at the latest the grace after the first
//     decision that meets the claim.
//
// The same file shows the checker catching the two holes it guards against:
// a lagging C8 List beside a request stored out of reach, and step C5's
// former take-over from an earlier UID without a List.

var (
	modelSeed      = flag.Uint64("model-seed", 0, "the model test's first seed (0: from the clock)")
	modelSchedules = flag.Int("model-schedules", 2000, "schedules per variant of the model test")
)

const (
	modelNS    = "ns"
	modelGrace = time.Minute
)

var modelFingerprints = []string{"f1", "f2"}

// variant is one configuration of the model.
type variant struct {
	name string
	// outOfReach stores requests without admission while no claim exists.
	outOfReach bool
	// lagAll: every List may answer from the past; lagC8: only step C8's.
	lagAll, lagC8 bool
	// formerC5 puts back the take-over of a claim held by an earlier UID of
	// the same name, without a List.
	formerC5 bool
}

func TestModelOfTheClaimProtocol(t *testing.T) {
	for _, v := range []variant{
		{name: "claims alone: every List lags or fails", lagAll: true},
		{name: "the List as a backstop for requests out of reach", outOfReach: true},
	} {
		t.Run(v.name, func(t *testing.T) {
			base := seedBase()
			for i := range *modelSchedules {
				if err := runModel(v, base+uint64(i)); err != nil {
					t.Fatalf("seed %d (replay: -run 'TestModelOfTheClaimProtocol' -model-seed=%d -model-schedules=1): %v",
						base+uint64(i), base+uint64(i), err)
				}
			}
		})
	}
}

// The negative controls: each variant must break an invariant within five
// times the budget of schedules (it takes some hundreds).
func TestModelCatchesTheHoles(t *testing.T) {
	for _, v := range []variant{
		{name: "a lagging C8 List", outOfReach: true, lagC8: true},
		{name: "the former C5: an earlier UID's claim taken without a List", outOfReach: true, formerC5: true},
	} {
		t.Run(v.name, func(t *testing.T) {
			base, budget := seedBase(), 5**modelSchedules
			for i := range budget {
				if err := runModel(v, base+uint64(i)); err != nil {
					t.Logf("caught at seed %d after %d schedules: %v", base+uint64(i), i+1, err)
					return
				}
			}
			t.Fatalf("no invariant broken in %d schedules from seed %d", budget, base)
		})
	}
}

func seedBase() uint64 {
	if *modelSeed != 0 {
		return *modelSeed
	}
	return uint64(time.Now().UnixNano())
}

// runModel runs one schedule and returns the first broken invariant.
func runModel(v variant, seed uint64) (err error) {
	m := newModel(v, seed)
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\ntrace:\n  %s", err, strings.Join(m.trace, "\n  "))
		}
	}()
	for range 40 {
		if err := m.event(); err != nil {
			return err
		}
	}
	if err := m.settle(); err != nil {
		return err
	}
	return m.liveness()
}

// model is one schedule's world.
type model struct {
	v      variant
	rng    *rand.Rand
	clock  *clocktesting.FakeClock
	store  *memStore
	s      *scheduler
	guards []*Guard
	keeper *ClaimKeeper
	// sweeping: one sweep at a time, as the janitor runs them.
	sweeping bool
	pending  []*write
	// admitted are the UIDs the Guards admitted; reach records when an
	// out-of-reach request was stored.
	admitted map[types.UID]bool
	seq      int
	trace    []string
}

// write is an admitted create or reactivation the API server has not
// stored yet; it fails once its request's deadline (the grace after it
// arrived) has passed.
type write struct {
	rr       *v1alpha1.RemediationRequest
	fromRV   string // a reactivation's precondition; "" for a create
	deadline time.Time
	// began is the store's revision when its decision began.
	began int
}

func newModel(v variant, seed uint64) *model {
	m := &model{v: v, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), admitted: map[types.UID]bool{}}
	m.clock = clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m.s = &scheduler{rng: m.rng, ev: make(chan struct{})}
	m.store = &memStore{m: m, leases: map[string]*coordinationv1.Lease{}, rrs: map[string]*v1alpha1.RemediationRequest{}, history: [][]v1alpha1.RemediationRequest{nil}}
	for range 2 {
		m.guards = append(m.guards, &Guard{Reader: m.store, Writer: m.store, Grace: modelGrace, Timeout: time.Hour,
			HolderWait: -1, Clock: m.clock, background: m.s.start})
	}
	m.keeper = &ClaimKeeper{Reader: m.store, Writer: m.store, Grace: modelGrace,
		Retention: modelGrace + MinClaimRetentionMargin, Clock: m.clock}
	return m
}

func (m *model) logf(format string, args ...any) {
	m.trace = append(m.trace, fmt.Sprintf("%s ", m.clock.Now().Format("15:04:05"))+fmt.Sprintf(format, args...))
}

// event runs one step of the schedule.
func (m *model) event() error {
	switch r := m.rng.IntN(100); {
	case r < 35 && len(m.s.parked) > 0:
		m.s.step()
	case r < 55:
		m.startCreate(pickFrom(m.rng, modelFingerprints), m.rng.IntN(len(m.guards)))
	case r < 65:
		return m.storeOne()
	case r < 70:
		m.startReactivation()
	case r < 75:
		m.end()
	case r < 79:
		m.remove()
	case r < 83 && !m.sweeping:
		m.sweeping = true
		m.s.start(func() {
			_, _ = m.keeper.Sweep(context.Background(), "")
			m.sweeping = false
		})
	case r < 92:
		m.advance(pickFrom(m.rng, []time.Duration{time.Second, 20 * time.Second, modelGrace, m.keeper.RetentionPeriod()}))
	case r < 96 && m.v.outOfReach:
		m.storeOutOfReach(pickFrom(m.rng, modelFingerprints))
	}
	return nil
}

func pickFrom[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// settle lets every caller finish and every write land or fail.
func (m *model) settle() error {
	for len(m.s.parked) > 0 || len(m.pending) > 0 {
		if len(m.s.parked) > 0 {
			m.s.step()
			continue
		}
		if err := m.storeOne(); err != nil {
			return err
		}
	}
	return nil
}

// liveness checks that a fingerprint with no active request is free for a
// create the grace after the first decision that meets its claim.
func (m *model) liveness() error {
	m.store.quiet = true
	for _, fp := range modelFingerprints {
		if len(m.store.active(fp, "")) > 0 {
			continue
		}
		var v Verdict
		for try := range 2 {
			name := fmt.Sprintf("live-%s-%d", fp, try)
			var err error
			m.s.start(func() {
				v, err = m.guards[0].Admit(context.Background(), Candidate{Namespace: modelNS, Name: name, UID: types.UID(name), Fingerprint: fp}, false)
			})
			for len(m.s.parked) > 0 {
				m.s.step()
			}
			if err != nil {
				return fmt.Errorf("liveness: %s: %v", name, err)
			}
			if v.Allowed {
				break
			}
			m.logf("liveness: %s denied %s (holder %s), waiting the grace", name, v.Reason, v.HolderName)
			m.advance(modelGrace)
		}
		if !v.Allowed {
			return fmt.Errorf("liveness: %s has no active request, and a create is still denied (%s, holder %s) the grace after the first decision that met its claim",
				fp, v.Reason, v.HolderName)
		}
	}
	return nil
}

// startCreate starts a client's create of a request of fp: a name of a
// small pool (so that names meet), a new UID per attempt. A failed or
// ClaimInFlight attempt may be retried under a new UID, as a client does;
// an answer may be lost and the API server ask again under the same UID.
func (m *model) startCreate(fp string, guard int) {
	name := fmt.Sprintf("%s-%d", fp, m.rng.IntN(2))
	crash := m.rng.IntN(8) == 0
	m.s.start(func() {
		m.s.cur.crashing = crash
		for attempt := 0; attempt < 3; attempt++ {
			arrived, began := m.clock.Now(), m.store.rev
			m.seq++
			c := Candidate{Namespace: modelNS, Name: name, UID: types.UID(fmt.Sprintf("%s/%d", name, m.seq)), Fingerprint: fp}
			v, err := m.admit(m.guards[guard], c)
			if m.s.cur.dead {
				m.logf("%s: the replica deciding it died", c.UID)
				return
			}
			if err != nil || m.rng.IntN(4) == 0 {
				m.logf("%s: answer %+v, %v lost; asked again", c.UID, v.Reason, err)
				v, err = m.admit(m.guards[guard], c)
			}
			m.logf("%s on guard %d: allowed %v %s holder %s err %v", c.UID, guard, v.Allowed, v.Reason, v.HolderName, err)
			if err == nil && v.Allowed {
				m.admitted[c.UID] = true
				rr := &v1alpha1.RemediationRequest{ObjectMeta: metav1.ObjectMeta{Namespace: modelNS, Name: name, UID: c.UID},
					Spec: v1alpha1.RemediationRequestSpec{SignalFingerprint: fp}}
				m.pending = append(m.pending, &write{rr: rr, deadline: arrived.Add(modelGrace), began: began})
				return
			}
			if err == nil && v.Reason != ReasonClaimInFlight || m.rng.IntN(2) == 0 {
				return
			}
		}
	})
}

// admit is the Guard's decision, or in the formerC5 variant the step it
// replaced first: a create meeting a claim of its own name under an earlier
// UID, whose holder is not stored active, took it over without a List.
func (m *model) admit(g *Guard, c Candidate) (Verdict, error) {
	if m.v.formerC5 {
		g.init()
		res, claimed, err := Resolver{Reader: m.store}.ResolveClaim(context.Background(), modelNS, c.Fingerprint)
		if err == nil && claimed && res.Claim.HolderName() == c.Name && res.Claim.HolderUID() != c.UID && !res.Active() {
			if moved, err := g.move(context.Background(), *res.Claim, c.holderRef()); err == nil && moved {
				return allow(ReasonUnique, ClaimTakenOver), nil
			}
		}
	}
	return g.Admit(context.Background(), c, false)
}

// startReactivation starts the move of a stored, ended request back to an
// active phase.
func (m *model) startReactivation() {
	var ended []*v1alpha1.RemediationRequest
	for _, name := range sortedKeys(m.store.rrs) {
		if rr := m.store.rrs[name]; !IsActive(rr) {
			ended = append(ended, rr.DeepCopy())
		}
	}
	if len(ended) == 0 {
		return
	}
	rr := pickFrom(m.rng, ended)
	guard := m.guards[m.rng.IntN(len(m.guards))]
	c := Candidate{Namespace: modelNS, Name: rr.Name, UID: rr.UID, Fingerprint: rr.Spec.SignalFingerprint,
		Reactivation: true, StoredResourceVersion: rr.ResourceVersion}
	m.s.start(func() {
		// The client sends the update again after a denial or an error,
		// and sometimes after an admission whose answer it did not wait
		// for: two requests about one reactivation, each decided on its
		// own.
		for range 3 {
			arrived, began := m.clock.Now(), m.store.rev
			v, err := guard.Admit(context.Background(), c, false)
			m.logf("reactivation of %s at %s: allowed %v %s err %v", rr.UID, rr.ResourceVersion, v.Allowed, v.Reason, err)
			if err == nil && v.Allowed {
				m.admitted[rr.UID] = true
				m.pending = append(m.pending, &write{rr: rr, fromRV: rr.ResourceVersion, deadline: arrived.Add(modelGrace), began: began})
			}
			if m.rng.IntN(2) == 0 {
				return
			}
		}
	})
}

// storeOne lands (or fails) one admitted write and checks safety.
func (m *model) storeOne() error {
	if len(m.pending) == 0 {
		return nil
	}
	i := m.rng.IntN(len(m.pending))
	w := m.pending[i]
	m.pending = slices.Delete(m.pending, i, i+1)
	cur, exists := m.store.rrs[w.rr.Name]
	switch {
	case !m.clock.Now().Before(w.deadline):
		m.logf("write of %s failed: its request timed out", w.rr.UID)
		return nil
	case m.rng.IntN(8) == 0:
		m.logf("write of %s failed: another webhook denied it", w.rr.UID)
		return nil
	case w.fromRV == "" && exists:
		m.logf("create of %s failed: AlreadyExists", w.rr.UID)
		return nil
	case w.fromRV != "" && (!exists || cur.UID != w.rr.UID || cur.ResourceVersion != w.fromRV):
		m.logf("reactivation of %s failed: Conflict", w.rr.UID)
		return nil
	}
	rr := w.rr.DeepCopy()
	rr.Status.OverallPhase = v1alpha1.PhaseProcessing
	m.store.putRR(rr)
	m.logf("stored %s active", rr.UID)
	for _, o := range m.store.active(rr.Spec.SignalFingerprint, rr.UID) {
		// One stored out of reach after the decision began is outside the
		// guarantee, in either order.
		if stored, _ := strconv.Atoi(o.Annotations[outOfReachAnnotation]); m.admitted[o.UID] || stored > 0 && stored <= w.began {
			return fmt.Errorf("safety: %s stored active beside %s (admitted %v)", rr.UID, o.UID, m.admitted[o.UID])
		}
	}
	return nil
}

// outOfReachAnnotation marks a request stored without admission, with the
// store's revision when it was.
const outOfReachAnnotation = "model/out-of-reach"

// storeOutOfReach stores an active request of fp without admission, while
// fp has no claim and no active request: created before the webhook
// guarded, say. (Two active out of reach are outside the guarantee: the
// claim goes to the oldest, and once it ends the other is unclaimed.)
func (m *model) storeOutOfReach(fp string) {
	if _, claimed := m.store.leases[ClaimName(fp)]; claimed || len(m.store.active(fp, "")) > 0 {
		return
	}
	m.seq++
	name := fmt.Sprintf("out-%s-%d", fp, m.seq)
	if _, taken := m.store.rrs[name]; taken {
		return
	}
	m.store.putRR(&v1alpha1.RemediationRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: modelNS, Name: name, UID: types.UID(name), Annotations: map[string]string{outOfReachAnnotation: fmt.Sprint(m.store.rev + 1)}},
		Spec:       v1alpha1.RemediationRequestSpec{SignalFingerprint: fp},
		Status:     v1alpha1.RemediationRequestStatus{OverallPhase: v1alpha1.PhaseProcessing},
	})
	m.logf("stored %s out of reach", name)
}

// end moves a stored active request to a terminal phase (no admission).
func (m *model) end() {
	for _, name := range sortedKeys(m.store.rrs) {
		if rr := m.store.rrs[name]; IsActive(rr) && m.rng.IntN(2) == 0 {
			rr = rr.DeepCopy()
			rr.Status.OverallPhase = v1alpha1.PhaseCompleted
			m.store.putRR(rr)
			m.logf("%s ended", rr.UID)
			return
		}
	}
}

// remove deletes a stored request (kubectl delete, a TTL).
func (m *model) remove() {
	names := sortedKeys(m.store.rrs)
	if len(names) == 0 {
		return
	}
	name := pickFrom(m.rng, names)
	m.logf("%s deleted", m.store.rrs[name].UID)
	m.store.deleteRR(name)
}

// advance moves the clock on.
func (m *model) advance(d time.Duration) {
	m.clock.Step(d)
	m.logf("%s passed", d)
}

// scheduler lets one caller at a time run to its next API call.
type scheduler struct {
	rng    *rand.Rand
	parked []*actor
	cur    *actor
	ev     chan struct{}
}

// actor is one caller. A crashing one dies after its next claim create,
// as a webhook replica killed mid-decision: its calls fail from then on and
// nothing it leaves behind runs.
type actor struct {
	wake           chan struct{}
	crashing, dead bool
}

// start adds f as a caller, parked until the scheduler first picks it.
func (s *scheduler) start(f func()) {
	if s.cur != nil && s.cur.dead {
		return
	}
	a := &actor{wake: make(chan struct{})}
	s.parked = append(s.parked, a)
	go func() {
		<-a.wake
		f()
		s.ev <- struct{}{}
	}()
}

// gate parks the running caller before its next API call; a dead one's
// call fails.
func (s *scheduler) gate() error {
	a := s.cur
	if a == nil {
		return nil
	}
	s.parked = append(s.parked, a)
	s.ev <- struct{}{}
	<-a.wake
	if a.dead {
		return errors.New("the replica died")
	}
	return nil
}

// step runs one parked caller, picked at random, to its next API call or
// its end.
func (s *scheduler) step() {
	i := s.rng.IntN(len(s.parked))
	a := s.parked[i]
	s.parked = slices.Delete(s.parked, i, i+1)
	s.cur = a
	a.wake <- struct{}{}
	<-s.ev
	s.cur = nil
}

// memStore is the API server: one namespace of claims and requests, every
// call a point where the scheduler may switch callers.
type memStore struct {
	client.Client // the calls the protocol never makes
	m             *model
	rev           int
	leases        map[string]*coordinationv1.Lease
	rrs           map[string]*v1alpha1.RemediationRequest
	// history holds the requests as they were after each change, for
	// Lists that lag.
	history [][]v1alpha1.RemediationRequest
	// quiet: no failed or lagging Lists (the liveness check).
	quiet bool
}

var (
	leaseGR = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}
	rrGR    = schema.GroupResource{Group: v1alpha1.GroupVersion.Group, Resource: v1alpha1.Resource}
)

func (st *memStore) nextRV() string { st.rev++; return fmt.Sprint(st.rev) }

func (st *memStore) putRR(rr *v1alpha1.RemediationRequest) {
	rr.ResourceVersion = st.nextRV()
	st.rrs[rr.Name] = rr
	st.snapshot()
}

func (st *memStore) deleteRR(name string) {
	delete(st.rrs, name)
	st.snapshot()
}

func (st *memStore) snapshot() {
	var items []v1alpha1.RemediationRequest
	for _, name := range sortedKeys(st.rrs) {
		items = append(items, *st.rrs[name].DeepCopy())
	}
	st.history = append(st.history, items)
}

// active returns the stored active requests of fp but exclude.
func (st *memStore) active(fp string, exclude types.UID) []*v1alpha1.RemediationRequest {
	var out []*v1alpha1.RemediationRequest
	for _, name := range sortedKeys(st.rrs) {
		if rr := st.rrs[name]; rr.Spec.SignalFingerprint == fp && rr.UID != exclude && IsActive(rr) {
			out = append(out, rr)
		}
	}
	return out
}

func (st *memStore) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if err := st.m.s.gate(); err != nil {
		return err
	}
	switch o := obj.(type) {
	case *coordinationv1.Lease:
		l, ok := st.leases[key.Name]
		if !ok {
			return apierrors.NewNotFound(leaseGR, key.Name)
		}
		l.DeepCopyInto(o)
	case *v1alpha1.RemediationRequest:
		rr, ok := st.rrs[key.Name]
		if !ok {
			return apierrors.NewNotFound(rrGR, key.Name)
		}
		rr.DeepCopyInto(o)
	default:
		return fmt.Errorf("get %T", obj)
	}
	return nil
}

func (st *memStore) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := st.m.s.gate(); err != nil {
		return err
	}
	if !st.quiet && st.m.rng.IntN(10) == 0 {
		return errors.New("list: the server was unable to return a response in the time allotted")
	}
	switch l := list.(type) {
	case *coordinationv1.LeaseList:
		for _, name := range sortedKeys(st.leases) {
			l.Items = append(l.Items, *st.leases[name].DeepCopy())
		}
	case *v1alpha1.RemediationRequestList:
		o := (&client.ListOptions{}).ApplyOptions(opts)
		fp, _ := o.FieldSelector.RequiresExactMatch(v1alpha1.FingerprintField)
		items := st.history[len(st.history)-1]
		if !st.quiet && (st.m.v.lagAll || st.m.v.lagC8 && calledFrom("(*decision).inFlight")) {
			items = st.history[st.m.rng.IntN(len(st.history))]
		}
		for _, rr := range items {
			if rr.Spec.SignalFingerprint == fp {
				l.Items = append(l.Items, *rr.DeepCopy())
			}
		}
	default:
		return fmt.Errorf("list %T", list)
	}
	return nil
}

// calledFrom reports whether the caller's stack runs through the function
// whose name ends in fn.
func calledFrom(fn string) bool {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for f, more := frames.Next(); more; f, more = frames.Next() {
		if strings.HasSuffix(f.Function, fn) {
			return true
		}
	}
	return false
}

func (st *memStore) Create(_ context.Context, obj client.Object, _ ...client.CreateOption) error {
	if err := st.m.s.gate(); err != nil {
		return err
	}
	l, ok := obj.(*coordinationv1.Lease)
	if !ok {
		return fmt.Errorf("create %T", obj)
	}
	if _, exists := st.leases[l.Name]; exists {
		return apierrors.NewAlreadyExists(leaseGR, l.Name)
	}
	st.m.seq++
	l.UID = types.UID(fmt.Sprintf("lease-%d", st.m.seq))
	l.ResourceVersion = st.nextRV()
	st.leases[l.Name] = l.DeepCopy()
	if a := st.m.s.cur; a != nil && a.crashing {
		a.dead = true
	}
	return nil
}

func (st *memStore) Update(_ context.Context, obj client.Object, _ ...client.UpdateOption) error {
	if err := st.m.s.gate(); err != nil {
		return err
	}
	l, ok := obj.(*coordinationv1.Lease)
	if !ok {
		return fmt.Errorf("update %T", obj)
	}
	cur, exists := st.leases[l.Name]
	switch {
	case !exists:
		return apierrors.NewNotFound(leaseGR, l.Name)
	case cur.ResourceVersion != l.ResourceVersion || cur.UID != l.UID:
		return apierrors.NewConflict(leaseGR, l.Name, errors.New("the object has been modified"))
	}
	l.ResourceVersion = st.nextRV()
	st.leases[l.Name] = l.DeepCopy()
	return nil
}

func (st *memStore) Delete(_ context.Context, obj client.Object, opts ...client.DeleteOption) error {
	if err := st.m.s.gate(); err != nil {
		return err
	}
	l, ok := obj.(*coordinationv1.Lease)
	if !ok {
		return fmt.Errorf("delete %T", obj)
	}
	cur, exists := st.leases[l.Name]
	if !exists {
		return apierrors.NewNotFound(leaseGR, l.Name)
	}
	o := (&client.DeleteOptions{}).ApplyOptions(opts)
	if p := o.Preconditions; p != nil && (p.UID != nil && *p.UID != cur.UID || p.ResourceVersion != nil && *p.ResourceVersion != cur.ResourceVersion) {
		return apierrors.NewConflict(leaseGR, l.Name, errors.New("precondition failed"))
	}
	delete(st.leases, l.Name)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
