// Package slack collects an incident's Slack messages: every message, join
// and thread reply posted in the incident's channels inside its window,
// through github.com/slack-go/slack over the shared collectors.Transport.
//
// # Threads whose parent is older than the window
//
// conversations.history returns the messages of a channel, not thread
// replies; replies need one conversations.replies call per thread parent.
// A reply posted inside the window to a parent older than the window belongs
// to the incident (PRODUCT.md §4), but history from the window's start never
// shows that parent. So each channel's history is also paged over a lookback
// before the window (Options.ThreadLookback, 7 days by default) only to find
// parents whose latest_reply falls at or after the window's start; their
// replies inside the window are collected, the old parents themselves are
// not. A thread whose parent is older than the lookback is missed; live
// capture through the Events API (NormalizeMessageEvent) catches those. The
// lookback costs extra history pages, which matters under Slack's 2025
// limits for non-Marketplace apps (1 request per minute, 15 messages a
// page): shorten it there if collections take too long.
package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// Defaults of Config and Options.
const (
	DefaultAPIURL            = "https://slack.com/api/"
	DefaultHistoryPageSize   = 100
	MaxHistoryPageSize       = 999
	DefaultRequestsPerMinute = 50
	DefaultThreadLookback    = 7 * 24 * time.Hour
	DefaultConcurrency       = 4
)

// Config is the sources.slack section of the configuration.
type Config struct {
	// Token is the bot token (xoxb-…); without it the source is disabled.
	Token string `yaml:"token"`
	// APIURL is the Web API base; DefaultAPIURL when empty.
	APIURL string `yaml:"api_url"`
	// SigningSecret verifies Events API deliveries; required when enabled.
	SigningSecret string `yaml:"signing_secret"`
	// HistoryPageSize is the limit sent to conversations.history and
	// conversations.replies: 1..999, default 100 (Slack recommends at most
	// 200; 15 under the 2025 non-Marketplace limits).
	HistoryPageSize int `yaml:"history_page_size"`
	// RequestsPerMinute paces every call (burst 1): default 50 (Tier 3), 1
	// under the 2025 non-Marketplace limits.
	RequestsPerMinute int `yaml:"requests_per_minute"`
}

// Enabled reports whether the source is configured (it has a token).
func (c Config) Enabled() bool { return c.Token != "" }

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	if c.HistoryPageSize == 0 {
		c.HistoryPageSize = DefaultHistoryPageSize
	}
	if c.RequestsPerMinute == 0 {
		c.RequestsPerMinute = DefaultRequestsPerMinute
	}
	return c
}

// Validate reports the first thing wrong with c, naming its key
// (sources.slack.…). Zero values stand for defaults.
func (c Config) Validate() error {
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("sources.slack.api_url: %q is not an absolute http(s) URL", c.APIURL)
		}
	}
	if c.HistoryPageSize < 0 || c.HistoryPageSize > MaxHistoryPageSize {
		return fmt.Errorf("sources.slack.history_page_size: %d is outside 1..%d", c.HistoryPageSize, MaxHistoryPageSize)
	}
	if c.RequestsPerMinute < 0 {
		return fmt.Errorf("sources.slack.requests_per_minute: %d must be at least 1", c.RequestsPerMinute)
	}
	if c.Enabled() && c.SigningSecret == "" {
		return errors.New("sources.slack.signing_secret: required when sources.slack.token is set")
	}
	return nil
}

// Options are the collector's dependencies and test hooks. A nil Base is a
// clone of http.DefaultTransport with a 60 s response-header timeout.
type Options struct {
	collectors.ClientOptions
	// Limiter paces requests; nil builds rate.Every(time.Minute /
	// requests_per_minute) with burst 1. Tests inject an unlimited one,
	// since a rate.Limiter waits on the real clock.
	Limiter *rate.Limiter
	// ThreadLookback is how far before the window history is searched for
	// thread parents with replies inside it (DefaultThreadLookback when 0;
	// negative turns the search off).
	ThreadLookback time.Duration
	// Concurrency is how many channels are collected at once
	// (DefaultConcurrency when 0).
	Concurrency int
}

// Collector collects Slack messages. It implements collectors.Collector.
type Collector struct {
	cfg         Config
	api         *slackapi.Client
	transport   *collectors.Transport
	log         *zap.Logger
	lookback    time.Duration
	concurrency int

	wsMu sync.Mutex
	ws   string // workspace URL, remembered for live capture
}

var (
	_ collectors.Collector = (*Collector)(nil)
	_ collectors.Resumer   = (*Collector)(nil)
)

// NewLimiter returns the pacing of requestsPerMinute: one request every
// minute/requestsPerMinute, burst 1.
func NewLimiter(requestsPerMinute int) *rate.Limiter {
	if requestsPerMinute <= 0 {
		requestsPerMinute = DefaultRequestsPerMinute
	}
	return rate.NewLimiter(rate.Every(time.Minute/time.Duration(requestsPerMinute)), 1)
}

// New validates cfg and returns a collector using cfg.APIURL for every call.
func New(cfg Config, opts Options) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	lim := opts.Limiter
	if lim == nil {
		lim = NewLimiter(cfg.RequestsPerMinute)
	}
	if opts.Base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = 60 * time.Second
		opts.Base = t
	}
	tr := opts.Transport(timeline.SourceSlack, RetryAfter, lim)
	conc := opts.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	// Each attempt times out without headers after opts.Timeout (a minute
	// by default); pacing and rate-limit waits are outside attempts, bounded
	// by the caller's ctx.
	api := slackapi.New(cfg.Token,
		slackapi.OptionAPIURL(cfg.APIURL),
		slackapi.OptionHTTPClient(collectors.NewHTTPClient(tr, opts.Timeout)),
	)
	lookback := opts.ThreadLookback
	if lookback == 0 {
		lookback = DefaultThreadLookback
	}
	return &Collector{cfg: cfg, api: api, transport: tr, log: opts.Log(), lookback: lookback, concurrency: conc}, nil
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return timeline.SourceSlack }

// Client returns the Slack client, paced and retried by the collector's
// transport, for a webhook receiver that needs to look things up.
func (c *Collector) Client() *slackapi.Client { return c.api }

// NewUserResolver returns a fresh user cache over the collector's client.
func (c *Collector) NewUserResolver() *UserCache { return NewUserResolver(c.api) }

// WorkspaceURL returns the workspace's URL ("https://acme.slack.com/") from
// auth.test, asked once and then remembered, for building permalinks of live
// events.
func (c *Collector) WorkspaceURL(ctx context.Context) (string, error) {
	c.wsMu.Lock()
	ws := c.ws
	c.wsMu.Unlock()
	if ws != "" {
		return ws, nil
	}
	return c.authTest(ctx)
}

func (c *Collector) authTest(ctx context.Context) (string, error) {
	res, err := c.api.AuthTestContext(ctx)
	if err != nil {
		return "", fmt.Errorf("auth.test: %w", apiError(err))
	}
	c.wsMu.Lock()
	c.ws = res.URL
	c.wsMu.Unlock()
	return res.URL, nil
}

// RetryAfter recognises Slack's rate-limit answer: HTTP 429 with
// Retry-After in seconds (at least one second is waited).
func RetryAfter(resp *http.Response, _ time.Time) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
	}
	d, ok := collectors.SecondsHeader(resp.Header, "Retry-After")
	if !ok || d < time.Second {
		d = time.Second
	}
	return d, true
}

// apiError turns slack-go's own rate-limit error (which the transport should
// have kept it from seeing) into *collectors.RateLimitError.
func apiError(err error) error {
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		return &collectors.RateLimitError{Source: timeline.SourceSlack, RetryAfter: rl.RetryAfter}
	}
	return err
}

// run is the state of one Collect call.
type run struct {
	w     timeline.Window
	ws    string
	users *UserCache

	emitMu  sync.Mutex
	emit    func(timeline.Event) error
	emitErr error
	cancel  context.CancelFunc

	// cp keeps each channel's progress; nil when not resuming.
	cp collectors.Checkpoint
}

// send serialises emit; after emit fails once, every collector goroutine
// stops and Collect returns that error unchanged.
func (r *run) send(e timeline.Event) error {
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	if r.emitErr != nil {
		return r.emitErr
	}
	if err := r.emit(e); err != nil {
		r.emitErr = err
		r.cancel()
		return err
	}
	return nil
}

// Collect implements collectors.Collector. It asks auth.test once for the
// workspace URL, then collects the window's channels concurrently
// (Options.Concurrency at a time) within the one request budget. A channel
// that fails does not stop the others; the error joins one error per failed
// channel, each naming it.
func (c *Collector) Collect(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
	return c.CollectResume(ctx, w, nil, emit)
}

// CollectResume implements collectors.Resumer: Collect, saving each
// channel's progress to cp after every history page (once the page's
// messages and their thread replies are emitted), and continuing each
// channel from its saved progress. A restarted collection so reads again
// at most the page it was on; a channel that was done is not read again.
// A nil cp saves nothing.
func (c *Collector) CollectResume(ctx context.Context, w timeline.Window, cp collectors.Checkpoint, emit func(timeline.Event) error) error {
	channels := dedupe(w.Channels)
	if len(channels) == 0 {
		return nil
	}
	ws, err := c.authTest(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{w: w, ws: ws, users: NewUserResolver(c.api), emit: emit, cancel: cancel, cp: cp}

	var (
		mu   sync.Mutex
		errs []error
	)
	var g errgroup.Group
	g.SetLimit(c.concurrency)
	for _, ch := range channels {
		g.Go(func() error {
			err := c.collectChannel(cctx, r, ch)
			if err == nil || cctx.Err() != nil {
				return nil
			}
			c.log.Warn("slack channel failed", zap.String("channel", ch), zap.Error(err))
			mu.Lock()
			errs = append(errs, fmt.Errorf("channel %s: %w", ch, err))
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	r.emitMu.Lock()
	emitErr := r.emitErr
	r.emitMu.Unlock()
	switch {
	case emitErr != nil:
		return emitErr
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return errors.Join(errs...)
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Phases of a channel's collection, in order.
const (
	phaseWindow   = "window"   // the window's history
	phaseLookback = "lookback" // thread parents before the window
	phaseDone     = "done"
)

// channelProgress is how far a channel's collection got.
type channelProgress struct {
	// Oldest and Latest are the bounds of the window it was read for.
	Oldest string `json:"oldest"`
	Latest string `json:"latest"`
	// Phase is what is being read (phaseWindow, phaseLookback, phaseDone).
	Phase string `json:"phase"`
	// Before is the ts of the oldest message of the phase handled so far,
	// its thread replies included: the phase goes on below it. Empty
	// before the phase's first page.
	Before string `json:"before,omitempty"`
}

func progressKey(channel string) string { return "channel:" + channel }

// below returns the latest bound that continues history paging under the
// message ts (both bounds are inclusive): one microsecond, Slack's
// resolution, before it.
func below(ts string) string {
	t, err := ParseTS(ts)
	if err != nil {
		return ts
	}
	return FormatTS(t.Add(-time.Microsecond))
}

// collectChannel emits the channel's messages in the window and the thread
// replies in the window, then searches the lookback for older parents. With
// r.cp set, it continues from the channel's saved progress and saves it
// after every page.
func (c *Collector) collectChannel(ctx context.Context, r *run, ch string) error {
	oldest, latest := ceilTS(r.w.Start), FormatTS(r.w.End)
	p := channelProgress{Oldest: oldest, Latest: latest, Phase: phaseWindow}
	if r.cp != nil {
		var saved channelProgress
		ok, err := r.cp.Load(progressKey(ch), &saved)
		if err != nil {
			return err
		}
		if ok && saved.Oldest == oldest && saved.Latest == latest {
			p = saved
		}
	}
	save := func(phase, before string) error {
		p.Phase, p.Before = phase, before
		if r.cp == nil {
			return nil
		}
		return r.cp.Save(ctx, progressKey(ch), p)
	}
	if p.Phase == phaseWindow {
		top := latest
		if p.Before != "" {
			top = below(p.Before)
		}
		err := c.pageHistory(ctx, ch, oldest, top, func(msgs []slackapi.Message) error {
			// History comes newest first; emit each page oldest first.
			for i := len(msgs) - 1; i >= 0; i-- {
				m := msgs[i].Msg
				if err := c.emitMessage(ctx, r, ch, m); err != nil {
					return err
				}
			}
			for i := len(msgs) - 1; i >= 0; i-- {
				if m := msgs[i].Msg; IsThreadParent(m) {
					if err := c.collectReplies(ctx, r, ch, m.Timestamp); err != nil {
						return err
					}
				}
			}
			if len(msgs) == 0 {
				return nil
			}
			return save(phaseWindow, msgs[len(msgs)-1].Timestamp)
		})
		if err != nil {
			return err
		}
		next := phaseLookback
		if c.lookback < 0 {
			next = phaseDone
		}
		if err := save(next, ""); err != nil {
			return err
		}
	}
	if p.Phase != phaseLookback {
		return nil
	}

	// Parents before the window whose threads reach into it.
	start := r.w.Start
	before := start.Truncate(time.Microsecond)
	if before.Equal(start) {
		before = before.Add(-time.Microsecond)
	}
	if before.Before(start.Add(-c.lookback)) {
		return save(phaseDone, "")
	}
	top := FormatTS(before)
	if p.Before != "" {
		top = below(p.Before)
	}
	err := c.pageHistory(ctx, ch, ceilTS(start.Add(-c.lookback)), top, func(msgs []slackapi.Message) error {
		for i := len(msgs) - 1; i >= 0; i-- {
			m := msgs[i].Msg
			if !IsThreadParent(m) {
				continue
			}
			if m.LatestReply != "" {
				if lr, err := ParseTS(m.LatestReply); err == nil && lr.Before(start) {
					continue
				}
			}
			if err := c.collectReplies(ctx, r, ch, m.Timestamp); err != nil {
				return err
			}
		}
		if len(msgs) == 0 {
			return nil
		}
		return save(phaseLookback, msgs[len(msgs)-1].Timestamp)
	})
	if err != nil {
		return err
	}
	return save(phaseDone, "")
}

// pageHistory pages conversations.history from latest down to oldest (both
// included), calling page for each page.
func (c *Collector) pageHistory(ctx context.Context, ch, oldest, latest string, page func([]slackapi.Message) error) error {
	params := &slackapi.GetConversationHistoryParameters{
		ChannelID: ch, Oldest: oldest, Latest: latest, Inclusive: true, Limit: c.cfg.HistoryPageSize,
	}
	for {
		res, err := c.api.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return fmt.Errorf("conversations.history: %w", apiError(err))
		}
		if err := page(res.Messages); err != nil {
			return err
		}
		next := res.ResponseMetaData.NextCursor
		if next == "" || next == params.Cursor {
			return nil
		}
		params.Cursor = next
	}
}

// collectReplies emits the replies of the thread started at parentTS that
// fall inside the window; the parent itself is not emitted here.
func (c *Collector) collectReplies(ctx context.Context, r *run, ch, parentTS string) error {
	params := &slackapi.GetConversationRepliesParameters{
		ChannelID: ch, Timestamp: parentTS, Oldest: ceilTS(r.w.Start), Latest: FormatTS(r.w.End),
		Inclusive: true, Limit: c.cfg.HistoryPageSize,
	}
	for {
		msgs, _, next, err := c.api.GetConversationRepliesContext(ctx, params)
		if err != nil {
			return fmt.Errorf("conversations.replies %s: %w", parentTS, apiError(err))
		}
		for _, msg := range msgs {
			m := msg.Msg
			// Skip the parent (on the first page) and broadcast replies,
			// which history already gave.
			if m.Timestamp == parentTS || !IsReply(m) || m.SubType == slackapi.MsgSubTypeThreadBroadcast {
				continue
			}
			if err := c.emitMessage(ctx, r, ch, m); err != nil {
				return err
			}
		}
		if next == "" || next == params.Cursor {
			return nil
		}
		params.Cursor = next
	}
}

func (c *Collector) emitMessage(ctx context.Context, r *run, ch string, m slackapi.Msg) error {
	if !Storable(m) {
		return nil
	}
	at, err := ParseTS(m.Timestamp)
	if err != nil {
		c.log.Warn("skipping slack message with a malformed ts", zap.String("channel", ch), zap.String("ts", m.Timestamp))
		return nil
	}
	if !r.w.Contains(at) {
		return nil
	}
	e, err := NormalizeMessage(ctx, ch, r.ws, m, r.users)
	if err != nil {
		return err
	}
	return r.send(e)
}
