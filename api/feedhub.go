package api

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/groundwork-dev/groundwork/timeline"
)

// FeedReader reads the feed by seq, as timeline.Store's Feed does.
type FeedReader interface {
	// Feed returns events of every incident with Seq > after, in Seq order.
	Feed(ctx context.Context, after int64, limit int) ([]timeline.Event, error)
}

// FeedSource is what the feed hub reads: the feed, and where it ends now.
type FeedSource interface {
	FeedReader
	// FeedHead returns the highest seq of the feed (0 when it is empty);
	// every event Feed returns later has a greater one.
	FeedHead(ctx context.Context) (int64, error)
}

// headless is a FeedSource for a store that cannot say where the feed ends:
// the hub then starts from the beginning.
type headless struct{ FeedReader }

func (headless) FeedHead(context.Context) (int64, error) { return 0, nil }

// hubPage is how many events the hub reads per query.
const hubPage = 500

// The hub reads, and wakes the streams, at most once per interval, which
// grows with the number of streams: commits in between go out together, so
// each stream writes at most once per interval however fast events are
// committed. One write per stream is what fan-out costs (a system call
// each, ~10µs), so this keeps the fan-out to about fanOutWritesPerSecond
// writes a second, leaving the CPU to the webhooks and the API. It adds up
// to the interval to an event's way to the streams under a steady flow of
// commits, and nothing to the first event after a quiet spell.
const (
	fanOutWritesPerSecond = 10_000
	minFanOutInterval     = 20 * time.Millisecond
	maxFanOutInterval     = 500 * time.Millisecond
)

func fanOutInterval(streams int64) time.Duration {
	d := time.Duration(streams) * time.Second / fanOutWritesPerSecond
	return min(max(d, minFanOutInterval), maxFanOutInterval)
}

// The streams are woken in waves of about fanOutWave, with a pause of
// fanOutGap between them, rather than all at once: thousands of goroutines
// made runnable together would queue every other request of the process
// (a webhook's next step) behind their writes; in the pauses the scheduler
// polls the network and runs those first. A stream's shard says its wave.
const (
	fanOutShards = 64
	fanOutWave   = 64
	fanOutGap    = 100 * time.Microsecond
)

// wavePause is the pause between two waves: fanOutGap, or more with many
// streams, so that one fan-out spreads over about half of its interval
// instead of taking both cores at once while webhooks wait.
func wavePause(streams int64) time.Duration {
	return max(fanOutGap, fanOutInterval(streams)/(2*fanOutShards))
}

// frame is one event encoded once as a server-sent event:
// "id: <seq>\ndata: <Event JSON>\n\n". Frames are immutable and shared by
// every stream that sends them.
type frame struct {
	seq  int64
	data []byte
	// incident is the incident of the event or annotation, which the
	// streams of one incident's page keep.
	incident string
}

func encodeFrame(e timeline.Event) (frame, error) {
	b, err := jsonLine(feedEntryJSON(e))
	if err != nil {
		return frame{}, err
	}
	data := make([]byte, 0, len(b)+32)
	data = append(data, "id: "...)
	data = strconv.AppendInt(data, e.Seq, 10)
	data = append(data, "\ndata: "...)
	data = append(data, b...)
	data = append(data, "\n\n"...)
	return frame{seq: e.Seq, data: data, incident: e.IncidentID}, nil
}

// feedHub is the one reader of new events in a process. Woken by the
// FeedNotifier (or every poll interval, in case a wake-up was lost), it
// reads the events after the highest seq it has seen, once, encodes each
// once, and keeps the most recent ones in a ring bounded in bytes. Streams
// follow the ring; a stream whose position is older than the ring reads
// the store itself (see feedStream.catchUp).
//
// The ring covers (lo, head]: it holds every event with lo < seq <= head.
// That holds because writers make seqs visible in the order they drew them,
// so reading "seq > head" never skips one, and because eviction only ever
// drops the oldest frame and moves lo up to its seq.
type feedHub struct {
	src      FeedSource
	notifier FeedNotifier
	// poll is how often the hub looks without a wake-up.
	poll    time.Duration
	timeout time.Duration
	// maxBytes bounds the ring's frames.
	maxBytes int64
	log      *zap.Logger
	metrics  *Metrics

	mu     sync.RWMutex
	ready  bool // lo and head are known
	lo     int64
	head   int64
	frames []frame // frames[first:] are the ring, in seq order
	first  int
	bytes  int64
	// changed[i] is closed, and replaced, after ready, lo or head
	// changed: streams of shard i waiting for news wait on it.
	changed [fanOutShards]chan struct{}
	// shards hands out stream shards in turn; perShard counts the
	// streams of each.
	shards   atomic.Uint32
	perShard [fanOutShards]atomic.Int64
	failing  bool // the last read failed (logged once per outage)

	startOnce sync.Once
	stop      context.CancelFunc
	stopped   chan struct{}
}

func newFeedHub(src FeedSource, notifier FeedNotifier, poll, timeout time.Duration, maxBytes int64, log *zap.Logger, m *Metrics) *feedHub {
	h := &feedHub{src: src, notifier: notifier, poll: poll, timeout: timeout, maxBytes: maxBytes,
		log: log, metrics: m, stopped: make(chan struct{})}
	for i := range h.changed {
		h.changed[i] = make(chan struct{})
	}
	return h
}

// join returns the shard of a new stream, and leave, which it calls when
// it ends.
func (h *feedHub) join() (shard int, leave func()) {
	shard = int(h.shards.Add(1) % fanOutShards)
	h.perShard[shard].Add(1)
	return shard, func() { h.perShard[shard].Add(-1) }
}

// streams is how many streams follow the hub.
func (h *feedHub) streams() int64 {
	var n int64
	for i := range h.perShard {
		n += h.perShard[i].Load()
	}
	return n
}

// start runs the hub until close, unless closing is already closed.
// Calling it again does nothing.
func (h *feedHub) start(closing <-chan struct{}) {
	h.startOnce.Do(func() {
		if isClosed(closing) {
			close(h.stopped)
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		h.mu.Lock()
		h.stop = cancel
		h.mu.Unlock()
		go h.run(ctx)
	})
}

// close stops the hub and waits for it. The ring stays readable.
func (h *feedHub) close() {
	h.startOnce.Do(func() { close(h.stopped) })
	h.mu.RLock()
	stop := h.stop
	h.mu.RUnlock()
	if stop != nil {
		stop()
	}
	<-h.stopped
}

func (h *feedHub) run(ctx context.Context) {
	defer close(h.stopped)
	// Subscribe before the first read, so that a commit after it is never
	// missed.
	var wake <-chan struct{}
	if h.notifier != nil {
		w, cancel := h.notifier.Subscribe()
		defer cancel()
		wake = w
	}
	poll := time.NewTicker(h.poll)
	defer poll.Stop()
	pace := time.NewTimer(0)
	defer pace.Stop()
	for {
		// Wake-ups during the wait merge into one.
		select {
		case <-ctx.Done():
			return
		case <-pace.C:
		}
		pace.Reset(fanOutInterval(h.streams()))
		h.readNew(ctx)
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-poll.C:
		}
	}
}

// readNew reads every event after head, page by page, into the ring. A
// failure is logged once and retried at the next wake-up or poll; streams
// meanwhile wait, with heartbeats.
func (h *feedHub) readNew(ctx context.Context) {
	err := h.readPages(ctx)
	if ctx.Err() != nil {
		return
	}
	h.mu.Lock()
	was := h.failing
	h.failing = err != nil
	h.mu.Unlock()
	switch {
	case err != nil && !was:
		h.log.Warn("feed hub: reading new events failed; streams wait until it recovers", zap.Error(err))
	case err == nil && was:
		h.log.Info("feed hub: reading new events again")
	}
}

func (h *feedHub) readPages(ctx context.Context) error {
	h.mu.RLock()
	ready, head := h.ready, h.head
	h.mu.RUnlock()
	if !ready {
		rctx, cancel := context.WithTimeout(ctx, h.timeout)
		n, err := h.src.FeedHead(rctx)
		cancel()
		if err != nil {
			return err
		}
		h.mu.Lock()
		h.ready, h.lo, h.head = true, n, n
		h.broadcast()
		h.mu.Unlock()
		head = n
	}
	// The streams are woken once, after every page is in.
	published := false
	defer func() {
		if published {
			h.wakeInWaves()
		}
	}()
	for {
		rctx, cancel := context.WithTimeout(ctx, h.timeout)
		events, err := h.src.Feed(rctx, head, hubPage)
		cancel()
		h.metrics.feedRead("hub")
		if err != nil {
			return err
		}
		fresh := make([]frame, 0, len(events))
		for _, e := range events {
			if e.Seq <= head {
				continue // cannot happen with a correct store; never send it twice
			}
			f, err := encodeFrame(e)
			if err != nil {
				return err
			}
			fresh = append(fresh, f)
			head = e.Seq
		}
		h.publish(fresh)
		published = published || len(fresh) > 0
		if len(events) < hubPage {
			return nil
		}
	}
}

// publish appends frames (in seq order, after head) and evicts the oldest
// beyond maxBytes. The caller then broadcasts.
func (h *feedHub) publish(fresh []frame) {
	if len(fresh) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range fresh {
		h.frames = append(h.frames, f)
		h.bytes += int64(len(f.data))
	}
	h.head = fresh[len(fresh)-1].seq
	for h.bytes > h.maxBytes && h.first < len(h.frames) {
		old := h.frames[h.first]
		h.lo, h.bytes = old.seq, h.bytes-int64(len(old.data))
		h.frames[h.first] = frame{} // let the bytes go once no stream holds them
		h.first++
	}
	if h.first > 64 && h.first*2 > len(h.frames) {
		n := copy(h.frames, h.frames[h.first:])
		clear(h.frames[n:])
		h.frames, h.first = h.frames[:n], 0
	}
}

// broadcast wakes every waiting stream at once. The caller holds mu.
func (h *feedHub) broadcast() {
	for i, ch := range h.changed {
		close(ch)
		h.changed[i] = make(chan struct{})
	}
}

// wakeInWaves wakes the waiting streams shard by shard, pausing after
// every fanOutWave streams or so.
func (h *feedHub) wakeInWaves() {
	woken := int64(0)
	gap := wavePause(h.streams())
	for i := range h.changed {
		if woken >= fanOutWave {
			time.Sleep(gap)
			woken = 0
		}
		h.mu.Lock()
		ch := h.changed[i]
		h.changed[i] = make(chan struct{})
		h.mu.Unlock()
		close(ch)
		woken += h.perShard[i].Load()
	}
}

// hubView is what a stream at some position finds in the hub.
type hubView struct {
	// ready: the hub knows where the feed ends (else the stream reads
	// the store, then waits).
	ready bool
	// behind: the position is older than the ring; lo is the ring's
	// start.
	behind bool
	lo     int64
	// frames are the next frames after the position, appended to the
	// caller's slice, at most budget bytes of them (at least one).
	frames []frame
	// wait is closed when the hub changes.
	wait <-chan struct{}
}

// since returns the frames after pos, appended to buf, and the channel of
// the stream's shard: copies of the frame
// headers (the ring's slice may be compacted later), sharing their bytes.
func (h *feedHub) since(pos int64, shard, budget int, buf []frame) hubView {
	h.mu.RLock()
	defer h.mu.RUnlock()
	v := hubView{ready: h.ready, lo: h.lo, wait: h.changed[shard], frames: buf}
	if !h.ready {
		return v
	}
	if pos < h.lo {
		v.behind = true
		return v
	}
	ring := h.frames[h.first:]
	i, _ := slices.BinarySearchFunc(ring, pos+1, func(f frame, seq int64) int {
		switch {
		case f.seq < seq:
			return -1
		case f.seq > seq:
			return 1
		}
		return 0
	})
	size := 0
	for j := i; j < len(ring); j++ {
		if j > i && size+len(ring[j].data) > budget {
			break
		}
		size += len(ring[j].data)
		v.frames = append(v.frames, ring[j])
	}
	return v
}

// stats returns the ring's bounds and size, for tests.
func (h *feedHub) stats() (lo, head int64, frames int, bytes int64) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.lo, h.head, len(h.frames) - h.first, h.bytes
}
