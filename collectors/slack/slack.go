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
//
// # Live coverage
//
// With Options.Coverage, a channel is read only as far as live capture does
// not vouch for it: events of the stretches it vouches for (every message,
// thread reply and edit delivered by the Events API and acknowledged, with no
// silence longer than Slack's retries fill) are in the live journal, which
// joins the incident by itself under the same ids. A window vouched for up to
// now is not read at all, which is what makes an incident under the 2025
// limits ready at once when its messages came live.
//
// # Deleted messages
//
// A message deleted upstream must leave the timeline (it may have been a
// pasted credential). A deleted thread parent that still has replies shows
// in history as a "tombstone": it is emitted as the message's Deletion.
// Other deleted messages simply vanish from history, so Collector is a
// collectors.Sweeper: for each channel collected without error it reports
// what it read completely — messages whose ts lies in [window start, the
// earlier of window end and one minute before the first history request];
// thread replies only where it knows the thread (its parent was in the
// history it read, or would have been had it still existed) — and the
// runner deletes the events stored there that this collection did not emit.
// Replies to parents older than the lookback are never swept, since the
// collection cannot see them (PRODUCT.md §4 keeps them).
package slack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

// Name is the source's name: its config key and Event.Source.
const Name = timeline.SourceSlack

// Defaults of Config and Options.
const (
	DefaultAPIURL            = "https://slack.com/api/"
	DefaultHistoryPageSize   = 100
	MaxHistoryPageSize       = 999
	DefaultRequestsPerMinute = 50
	MaxRequestsPerMinute     = 60000
	DefaultThreadLookback    = 7 * 24 * time.Hour
	DefaultConcurrency       = 4
)

// sweepMargin is how far before its first history request a channel's
// sweep ends: a message posted at about that moment, by a clock a little
// ahead of ours, may have missed the read, and must not be taken for
// deleted.
const sweepMargin = time.Minute

// LiveTolerance is the longest silence a span of Slack's live coverage
// survives. Slack retries a delivery that failed nearly at once, after a
// minute and after five minutes: every delivery refused during an outage
// shorter than five minutes is retried after it. Four minutes leaves a
// minute for Slack's own timing.
const LiveTolerance = 4 * time.Minute

// Source is the Slack source, for cmd's list: the collector, and the Events
// API receiver that captures the same messages live, by channel. Slack
// retries the deliveries it could not make, so a collection skips reading
// what live capture vouches for (collectors.Coverage).
var Source = collectors.Source{
	Name: Name,
	NewConfig: func() collectors.Config {
		c := Config{}.WithDefaults()
		return &c
	},
	New: func(cfg collectors.Config, opts collectors.ClientOptions) (collectors.Collector, error) {
		return New(*cfg.(*Config), Options{ClientOptions: opts})
	},
	Receivers: func(cfg collectors.Config, c collectors.Collector, opts collectors.ClientOptions) []collectors.WebhookReceiver {
		col, _ := c.(*Collector)
		return []collectors.WebhookReceiver{NewReceiver(cfg.(*Config), col, opts)}
	},
	Live: &collectors.LiveCapture{Place: collectors.PlaceChannel, Tolerance: LiveTolerance,
		ConfiguredFunc: func(cfg collectors.Config) bool { return cfg.(*Config).SigningSecret != "" }},
}

// Config is the sources.slack section of the configuration.
type Config struct {
	// Token is the bot token (xoxb-…); without it the source is disabled.
	Token collectors.Secret `yaml:"token"`
	// APIURL is the Web API base; DefaultAPIURL when empty.
	APIURL string `yaml:"api_url"`
	// SigningSecret verifies Events API deliveries; required when enabled.
	SigningSecret collectors.Secret `yaml:"signing_secret"`
	// HistoryPageSize is the limit sent to conversations.history and
	// conversations.replies: 1..999, default 100 (Slack recommends at most
	// 200; 15 under the 2025 non-Marketplace limits).
	HistoryPageSize int `yaml:"history_page_size"`
	// RequestsPerMinute paces every call (burst 1): default 50 (Tier 3), 1
	// under the 2025 non-Marketplace limits, at most 60000.
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
		if _, err := collectors.ParseHTTPURL(c.APIURL); err != nil {
			return fmt.Errorf("sources.slack.api_url: %w", err)
		}
	}
	if c.HistoryPageSize < 0 || c.HistoryPageSize > MaxHistoryPageSize {
		return fmt.Errorf("sources.slack.history_page_size: %d is outside 1..%d", c.HistoryPageSize, MaxHistoryPageSize)
	}
	if c.RequestsPerMinute < 0 {
		return fmt.Errorf("sources.slack.requests_per_minute: %d must be at least 1", c.RequestsPerMinute)
	}
	if c.RequestsPerMinute > MaxRequestsPerMinute {
		return fmt.Errorf("sources.slack.requests_per_minute: %d is more than %d", c.RequestsPerMinute, MaxRequestsPerMinute)
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
	coverage    collectors.Coverage
	clock       collectors.ClientOptions

	wsMu sync.Mutex
	ws   string // workspace URL, remembered for live capture
}

var (
	_ collectors.Collector = (*Collector)(nil)
	_ collectors.Skipper   = (*Collector)(nil)
	_ collectors.Sweeper   = (*Collector)(nil)
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
	api := slackapi.New(cfg.Token.Value(),
		slackapi.OptionAPIURL(cfg.APIURL),
		slackapi.OptionHTTPClient(collectors.NewHTTPClient(tr, opts.Timeout)),
	)
	lookback := opts.ThreadLookback
	if lookback == 0 {
		lookback = DefaultThreadLookback
	}
	return &Collector{cfg: cfg, api: api, transport: tr, log: opts.Log(), lookback: lookback, concurrency: conc,
		coverage: opts.Coverage, clock: opts.ClientOptions}, nil
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
	if res.URL == "" {
		return "", fmt.Errorf("auth.test: %w: no \"url\"", collectors.ErrWrongShape)
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
	// sweepFunc hears each channel read completely; nil for Collect.
	sweepFunc func(timeline.Sweep)
	// cp keeps each channel's progress; nil when not resuming.
	cp collectors.Checkpoint
}

// sweep reports s, serialised with send.
func (r *run) sweep(s timeline.Sweep) {
	if r.sweepFunc == nil {
		return
	}
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	if r.emitErr == nil {
		r.sweepFunc(s)
	}
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

// Skip implements collectors.Skipper: with no channel in the incident's
// scope there is nothing to read.
func (c *Collector) Skip(w timeline.Window) (string, bool) {
	if len(dedupe(w.Channels)) > 0 {
		return "", false
	}
	return "no Slack channels are in the incident's scope (services.<id>.slack_channels, default.slack_channels, or the request's slack_channels)", true
}

// Collect implements collectors.Collector. It asks auth.test once for the
// workspace URL, then collects the window's channels concurrently
// (Options.Concurrency at a time) within the one request budget. A channel
// that fails does not stop the others; the error joins one error per failed
// channel, each naming it.
//
// With Options.Coverage, a channel is read only up to the end of the last
// stretch of the window that live capture does not vouch for (see
// readUntil); a channel it vouches for entirely is not read at all, and when
// no channel needs reading Collect makes no request.
func (c *Collector) Collect(ctx context.Context, w timeline.Window, emit func(timeline.Event) error) error {
	return c.CollectSweeping(ctx, w, emit, nil)
}

// CollectSweeping implements collectors.Sweeper: Collect, and one sweep per
// channel collected without error (see "Deleted messages" above).
func (c *Collector) CollectSweeping(ctx context.Context, w timeline.Window, emit func(timeline.Event) error, sweep func(timeline.Sweep)) error {
	return c.collect(ctx, w, nil, emit, sweep)
}

// CollectResume implements collectors.Resumer: CollectSweeping, saving each
// channel's progress to cp after every history page (once the page's
// messages and their thread replies are emitted), and continuing each
// channel from its saved progress. A restarted collection so reads again
// at most the page it was on; a channel that was done is not read again.
// A nil cp saves nothing. A channel continued from saved progress reports
// no sweep: this run did not see what the earlier one read.
func (c *Collector) CollectResume(ctx context.Context, w timeline.Window, cp collectors.Checkpoint, emit func(timeline.Event) error, sweep func(timeline.Sweep)) error {
	return c.collect(ctx, w, cp, emit, sweep)
}

func (c *Collector) collect(ctx context.Context, w timeline.Window, cp collectors.Checkpoint, emit func(timeline.Event) error, sweep func(timeline.Sweep)) error {
	channels := dedupe(w.Channels)
	if len(channels) == 0 {
		return nil
	}
	until := make(map[string]time.Time, len(channels))
	var read []string
	for _, ch := range channels {
		if end, ok := c.readUntil(ctx, w, ch); ok {
			until[ch] = end
			read = append(read, ch)
		} else {
			c.log.Debug("slack channel vouched for by live capture; not read", zap.String("channel", ch))
		}
	}
	if channels = read; len(channels) == 0 {
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
	r := &run{w: w, ws: ws, users: NewUserResolver(c.api), emit: emit, cancel: cancel, sweepFunc: sweep, cp: cp}

	var (
		mu   sync.Mutex
		errs []error
	)
	var g errgroup.Group
	g.SetLimit(c.concurrency)
	for _, ch := range channels {
		g.Go(func() error {
			err := c.collectChannel(cctx, r, ch, until[ch])
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

// readUntil returns how far into w channel ch must be read, and false when
// it need not be read at all. Without coverage that is the whole window.
// With it, the part of the window after now is left to live capture (its
// events have not happened yet), and so is every stretch after the last one
// live capture does not vouch for: those events are in the live journal,
// which joins the incident by itself. Reading still starts at the window's
// start, whatever is covered before the last gap, so that an edit made
// during a gap to an earlier message is read too. Slack retries a failed
// delivery for about five minutes, which is what lets coverage vouch for
// the last stretches (see the README's "The live journal").
func (c *Collector) readUntil(ctx context.Context, w timeline.Window, ch string) (time.Time, bool) {
	if c.coverage == nil {
		return w.End, true
	}
	now := c.clock.Now()
	end := w.End
	if now.Before(end) {
		end = now
	}
	if end.Before(w.Start) {
		return w.End, true
	}
	spans, err := c.coverage.Covered(ctx, timeline.SourceSlack, ch, w.Start, end, now)
	if err != nil {
		c.log.Warn("live coverage unknown; reading the whole window", zap.String("channel", ch), zap.Error(err))
		return w.End, true
	}
	gaps := timeline.Gaps(w.Start, end, spans)
	if len(gaps) == 0 {
		return time.Time{}, false
	}
	return gaps[len(gaps)-1].To, true
}

// channelRead is what collecting one channel read: history from from (the
// window's start, or the lookback's once that was searched too) up to end
// (the window's end, or less where live capture vouches for the rest; see
// readUntil), starting at readAt.
type channelRead struct {
	from, end time.Time
	readAt    time.Time
	// resumed: the read went on from progress an earlier run saved.
	resumed bool
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

// collectChannel emits the channel's messages in the window up to end and
// the thread replies in the window up to end, then searches the lookback for
// older parents, and when all of it succeeded reports the channel's sweep.
func (c *Collector) collectChannel(ctx context.Context, r *run, ch string, end time.Time) error {
	read := &channelRead{from: r.w.Start, end: end, readAt: c.clock.Now()}
	if err := c.readChannel(ctx, r, ch, read); err != nil {
		return err
	}
	if read.resumed {
		return nil
	}
	if s, ok := read.sweep(r.w, ch); ok {
		r.sweep(s)
	}
	return nil
}

// sweep is the part of channel ch that read covers completely (see
// "Deleted messages"); ok is false when it is empty.
func (read *channelRead) sweep(w timeline.Window, ch string) (timeline.Sweep, bool) {
	end := read.end
	if limit := read.readAt.Add(-sweepMargin); limit.Before(end) {
		end = limit
	}
	if end.Before(w.Start) {
		return timeline.Sweep{}, false
	}
	from := read.from
	keep := func(e timeline.Event) bool {
		if e.Kind != timeline.KindChatReply {
			return false
		}
		if sub, _ := e.Details["subtype"].(string); sub == slackapi.MsgSubTypeThreadBroadcast {
			return false // broadcasts are in history themselves
		}
		// A thread is known when its parent's ts lies in the history read:
		// the parent was there (as itself, or as a tombstone while it had
		// replies), and its replies in the window were read, or it had none
		// there. Replies in other threads are kept.
		thread, _ := e.Details["thread_ts"].(string)
		t, err := ParseTS(thread)
		return err != nil || t.Before(from) || t.After(end)
	}
	return timeline.Sweep{IDPrefix: MessageID(ch, ""), Start: w.Start, End: end, KeepFunc: keep}, true
}

// readChannel reads the channel's history in the window up to read.end and
// the replies of its threads, then the lookback for older parents. With
// r.cp set, it continues from the channel's saved progress and saves it
// after every page.
func (c *Collector) readChannel(ctx context.Context, r *run, ch string, read *channelRead) error {
	end := read.end
	oldest, latest := ceilTS(r.w.Start), FormatTS(end)
	p := channelProgress{Oldest: oldest, Latest: latest, Phase: phaseWindow}
	if r.cp != nil {
		var saved channelProgress
		ok, err := r.cp.Load(progressKey(ch), &saved)
		if err != nil {
			return err
		}
		if ok && saved.Oldest == oldest && saved.Latest == latest {
			p, read.resumed = saved, true
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
					if err := c.collectReplies(ctx, r, ch, m.Timestamp, end); err != nil {
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
			if err := c.collectReplies(ctx, r, ch, m.Timestamp, end); err != nil {
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
	read.from = start.Add(-c.lookback)
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
		if res.Messages == nil { // absent or null; an empty page is []
			return fmt.Errorf("conversations.history: %w: no \"messages\" list", collectors.ErrWrongShape)
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
// fall inside the window up to end; the parent itself is not emitted here.
func (c *Collector) collectReplies(ctx context.Context, r *run, ch, parentTS string, end time.Time) error {
	params := &slackapi.GetConversationRepliesParameters{
		ChannelID: ch, Timestamp: parentTS, Oldest: ceilTS(r.w.Start), Latest: FormatTS(end),
		Inclusive: true, Limit: c.cfg.HistoryPageSize,
	}
	for {
		msgs, _, next, err := c.api.GetConversationRepliesContext(ctx, params)
		if err != nil {
			return fmt.Errorf("conversations.replies %s: %w", parentTS, apiError(err))
		}
		if msgs == nil {
			return fmt.Errorf("conversations.replies %s: %w: no \"messages\" list", parentTS, collectors.ErrWrongShape)
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
	if m.SubType == MsgSubTypeTombstone {
		// A deleted parent kept for its replies: the message is gone.
		at, err := ParseTS(m.Timestamp)
		if err != nil || !r.w.Contains(at) {
			return nil
		}
		e, err := Deletion(ch, m.Timestamp, m.ThreadTimestamp, c.clock.Now())
		if err != nil {
			return nil
		}
		return r.send(e)
	}
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
