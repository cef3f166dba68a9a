package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// FeedListener holds one dedicated connection per process that LISTENs on
// FeedChannel and wakes every subscriber when events were stored. A wake-up
// carries no data: subscribers read the feed by seq themselves, so a lost or
// coalesced notification delays nobody past their next read and loses
// nothing.
//
// Fan-out never blocks: each subscriber has a buffer of one wake-up, and a
// wake-up that finds it full is merged into the pending one. A slow reader
// thus cannot hold up the others or the listener.
type FeedListener struct {
	connConfig *pgx.ConnConfig
	// ErrorFunc, when set, is told when the connection fails; the listener
	// reconnects by itself.
	ErrorFunc func(err error)
	// RetryMin and RetryMax bound the backoff between reconnection
	// attempts (defaults 100ms and 5s).
	RetryMin, RetryMax time.Duration

	mu   sync.Mutex
	subs map[chan struct{}]struct{}
	// pid is the backend of the current LISTEN connection, 0 when there is
	// none (for tests that cut the connection).
	pid uint32
}

// NewFeedListener returns a listener that connects like pool does. Call Run
// to start it.
func NewFeedListener(pool *pgxpool.Pool) *FeedListener {
	return &FeedListener{connConfig: pool.Config().ConnConfig.Copy(), subs: map[chan struct{}]struct{}{}}
}

// Subscribe registers a subscriber. The channel receives a value after events
// were committed (several commits may share one value) and after every
// (re)connection, when notifications may have been missed. Call cancel when
// done; it is safe to call more than once.
func (l *FeedListener) Subscribe() (wake <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	l.mu.Lock()
	l.subs[ch] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.subs, ch)
			l.mu.Unlock()
		})
	}
}

// Subscribers returns how many subscribers are registered.
func (l *FeedListener) Subscribers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.subs)
}

// wakeAll signals every subscriber without blocking.
func (l *FeedListener) wakeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ch := range l.subs {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// Run listens until ctx ends, reconnecting with backoff whenever the
// connection fails. It returns ctx's error.
func (l *FeedListener) Run(ctx context.Context) error {
	minWait, maxWait := l.RetryMin, l.RetryMax
	if minWait <= 0 {
		minWait = 100 * time.Millisecond
	}
	if maxWait < minWait {
		maxWait = max(minWait, 5*time.Second)
	}
	wait := minWait
	for {
		listened, err := l.listen(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if l.ErrorFunc != nil && err != nil {
			l.ErrorFunc(err)
		}
		if listened {
			wait = minWait
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// listen runs one connection until it fails. listened reports whether LISTEN
// succeeded, which resets the backoff.
func (l *FeedListener) listen(ctx context.Context) (listened bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, l.connConfig)
	cancel()
	if err != nil {
		return false, classify(err)
	}
	defer func() {
		l.setPID(0)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{FeedChannel}.Sanitize()); err != nil {
		return false, classify(err)
	}
	l.setPID(conn.PgConn().PID())
	// Commits between the last connection's end and this LISTEN sent their
	// notifications to nobody: let every subscriber look.
	l.wakeAll()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return true, ctx.Err()
			}
			return true, classify(err)
		}
		l.wakeAll()
	}
}

func (l *FeedListener) setPID(pid uint32) {
	l.mu.Lock()
	l.pid = pid
	l.mu.Unlock()
}

// FeedHead returns the highest seq in the feed, 0 when it is empty. Writers
// make seqs visible in the order they drew them (see writeLockID), so every
// event Feed will ever return after it has a greater seq: a reader that
// starts from FeedHead misses nothing committed later.
func (s *Store) FeedHead(ctx context.Context) (int64, error) {
	var head int64
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(max(seq), 0) FROM events`).Scan(&head); err != nil {
		return 0, fmt.Errorf("feed head: %w", classify(err))
	}
	return head, nil
}

// NewPoolLike opens a pool of at most maxConns connections that connects
// like pool does (same server, credentials and search_path). Event streams
// read on such pools of their own, so that however many are open they never
// take a connection the webhooks and the API need. It does not connect
// until first used.
func NewPoolLike(pool *pgxpool.Pool, maxConns int32) (*pgxpool.Pool, error) {
	cfg := pool.Config()
	cfg.MaxConns, cfg.MinConns = max(maxConns, 1), 0
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("opening a pool: %w", classify(err))
	}
	return p, nil
}
