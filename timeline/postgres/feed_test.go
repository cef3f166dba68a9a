package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/timeline/postgres"
)

// waitWake fails the test when no wake-up arrives within a generous bound
// (the bound only keeps a broken listener from hanging the test).
func waitWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("no wake-up %s", what)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startListener runs l until the test ends and checks that Run returns the
// context's error.
func startListener(t *testing.T, l *postgres.FeedListener) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	})
}

func TestFeedListenerWakesSubscribersAfterCommits(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	mustIncident(t, st, "PINC1")
	l := postgres.NewFeedListener(s.Pool)
	wake, cancel := l.Subscribe()
	startListener(t, l)
	waitWake(t, wake, "after connecting") // connecting wakes everyone: notifications may have been missed
	waitFor(t, "LISTEN", func() bool { return postgres.ListenerPID(l) != 0 })
	// Drain wake-ups other tests' commits on the shared channel may cause.
	select {
	case <-wake:
	default:
	}
	upsert(t, st, chat("PINC1", 1, t0))
	waitWake(t, wake, "after a commit")

	if n := l.Subscribers(); n != 1 {
		t.Errorf("Subscribers = %d, want 1", n)
	}
	cancel()
	cancel() // idempotent
	if n := l.Subscribers(); n != 0 {
		t.Errorf("Subscribers after cancel = %d, want 0", n)
	}
}

func TestFeedListenerNeverBlocksOnASlowSubscriber(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	mustIncident(t, st, "PINC1")
	l := postgres.NewFeedListener(s.Pool)
	slow, cancelSlow := l.Subscribe() // never read
	defer cancelSlow()
	startListener(t, l)
	waitFor(t, "LISTEN", func() bool { return postgres.ListenerPID(l) != 0 })
	fast, cancelFast := l.Subscribe()
	defer cancelFast()
	for i := 0; i < 20; i++ {
		upsert(t, st, chat("PINC1", i, t0.Add(time.Duration(i)*time.Second)))
		waitWake(t, fast, "for the reading subscriber while another does not read")
	}
	if n := len(slow); n != 1 {
		t.Errorf("the slow subscriber holds %d pending wake-ups, want them merged into 1", n)
	}
}

func TestFeedListenerReconnects(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	mustIncident(t, st, "PINC1")
	l := postgres.NewFeedListener(s.Pool)
	l.RetryMin, l.RetryMax = 10*time.Millisecond, 50*time.Millisecond
	var mu sync.Mutex
	var failures []error
	l.ErrorFunc = func(err error) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	}
	wake, cancel := l.Subscribe()
	defer cancel()
	startListener(t, l)
	waitFor(t, "LISTEN", func() bool { return postgres.ListenerPID(l) != 0 })
	pid := postgres.ListenerPID(l)
	<-wake // the connection's own wake-up

	if _, err := s.Pool.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, int32(pid)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a new LISTEN connection", func() bool {
		p := postgres.ListenerPID(l)
		return p != 0 && p != pid
	})
	waitWake(t, wake, "after reconnecting")
	select {
	case <-wake:
	default:
	}
	upsert(t, st, chat("PINC1", 1, t0))
	waitWake(t, wake, "after a commit on the new connection")
	mu.Lock()
	defer mu.Unlock()
	if len(failures) == 0 {
		t.Error("ErrorFunc was not told of the lost connection")
	}
}

// TestFeedHeadIsTheHighestSeq: 0 for an empty feed, then the seq of the
// last insert or change, on a pool made with NewPoolLike (same schema).
func TestFeedHeadIsTheHighestSeq(t *testing.T) {
	t.Parallel()
	st, s := newStore(t)
	pool, err := postgres.NewPoolLike(s.Pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	other := postgres.New(pool)
	ctx := context.Background()
	head := func() int64 {
		t.Helper()
		n, err := other.FeedHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := head(); n != 0 {
		t.Errorf("FeedHead of an empty feed = %d, want 0", n)
	}
	mustIncident(t, st, "PINC1")
	upsert(t, st, chat("PINC1", 1, t0), chat("PINC1", 2, t0.Add(time.Second)))
	feed, err := st.Feed(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if n := head(); n != feed[len(feed)-1].Seq {
		t.Errorf("FeedHead = %d, want the last seq %d", n, feed[len(feed)-1].Seq)
	}
	changed := chat("PINC1", 1, t0)
	changed.Text = "edited"
	upsert(t, st, changed)
	if feed, err = st.Feed(ctx, feed[len(feed)-1].Seq, 10); err != nil || len(feed) != 1 {
		t.Fatalf("the change in the feed: %v %v", feed, err)
	}
	if n := head(); n != feed[0].Seq {
		t.Errorf("FeedHead after a change = %d, want its new seq %d", n, feed[0].Seq)
	}
	if max := pool.Config().MaxConns; max != 1 {
		t.Errorf("NewPoolLike(…, 1) has MaxConns %d", max)
	}
}
