// Package slackfake is an in-memory Slack Web API for tests, demos and
// benchmarks. Server is an http.Handler (not tied to httptest) that speaks the
// wire format of the methods Groundwork calls — conversations.history,
// conversations.replies, conversations.info, users.info, bots.info and
// auth.test — the way Slack
// does: form-encoded POST bodies (or GET queries) carrying the token, answers
// of HTTP 200 with {"ok": false, "error": "..."} for API errors, opaque
// base64 cursors in response_metadata.next_cursor, history newest first and
// replies oldest first with the thread's parent first, and HTTP 429 with
// Retry-After for rate limits.
//
// Mount it so that methods are reached at /api/{method}; a client then uses
// server.URL + "/api/" as its API URL.
package slackfake

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/collectors/internal/fakeapi"
)

// Methods served.
const (
	MethodHistory  = "conversations.history"
	MethodReplies  = "conversations.replies"
	MethodUserInfo = "users.info"
	MethodBotInfo  = "bots.info"
	MethodAuthTest = "auth.test"
)

// Slack's documented limits.
const (
	// MaxPageSize is the largest limit Slack honours on history and replies.
	MaxPageSize = 999
	// NonMarketplacePageSize is the cap on history and replies for apps
	// commercially distributed outside the Slack Marketplace (since 2025).
	NonMarketplacePageSize = 15
	// DefaultPageSize is what Slack returns when no limit is sent.
	DefaultPageSize = 100
)

// Team is the workspace the fake pretends to be; auth.test reports it.
type Team struct {
	ID     string
	Name   string
	Domain string // the permalink host is https://{Domain}.slack.com/
	// BotUserID and BotID identify the app's bot user in auth.test.
	BotUserID string
	BotID     string
}

// User is a workspace member as users.info describes it.
type User struct {
	ID          string
	Name        string // the handle, e.g. "alice"
	RealName    string
	DisplayName string
	Email       string
	IsBot       bool
	Deleted     bool
	TZ          string
}

// Bot is an integration as bots.info describes it.
type Bot struct {
	ID     string
	Name   string
	AppID  string
	UserID string
}

// Edited marks a message as edited by User at TS.
type Edited struct {
	User string
	TS   string
}

// File is a file shared in a message.
type File struct {
	ID       string
	Name     string
	Title    string
	Mimetype string
	Size     int
}

// Reaction is one emoji reaction on a message.
type Reaction struct {
	Name  string
	Users []string
}

// Message is one message to seed. TS is required ("1512085950.000216"); a
// message whose ThreadTS differs from TS is a reply in that thread, whose
// parent must have been added first. Parents get reply_count, reply_users,
// latest_reply from their replies automatically.
type Message struct {
	TS       string
	User     string
	Text     string
	Subtype  string // "", "channel_join", "bot_message", ...
	ThreadTS string
	// Broadcast makes a reply also appear in the channel's history
	// (subtype thread_broadcast).
	Broadcast bool
	// BotID marks a message posted by an app. A message without a subtype
	// and with a known bot gets a bot_profile, as modern app messages do; a
	// legacy "bot_message" gets only bot_id and username, as Slack sends.
	BotID    string
	Username string
	Edited   *Edited
	Files    []File
	// Reactions are reported with their count.
	Reactions []Reaction
}

// Server is the fake Slack Web API. Its zero value is not usable; call New.
// All methods are safe for concurrent use.
type Server struct {
	*fakeapi.Core

	mu       sync.RWMutex
	token    string
	team     Team
	users    map[string]*User
	bots     map[string]*Bot
	channels map[string]*channel
	// channelNames are the names SetChannelName gave (guarded by mu).
	channelNames map[string]string

	// the limits, guarded by lmu
	lmu       sync.Mutex
	maxPage   int
	perMinute int
	recent    map[string][]time.Time // per method, for the per-minute limit
}

// Call is one request the fake received, as recorded for assertions. The
// token is removed from Form.
type Call struct {
	Method string
	Form   map[string][]string
	Status int
	Error  string
}

type channel struct {
	id string
	// history is the channel's own timeline (top-level messages and
	// broadcast replies) in ascending ts order.
	history []*message
	byTS    map[int64]*message
}

type message struct {
	Message
	micros  int64
	replies []*message // ascending; only on parents
	hidden  bool       // a deleted parent's tombstone
}

// New returns an empty fake that accepts token. Its workspace is
// "acme" (https://acme.slack.com/), its page size cap is MaxPageSize and it
// has no per-minute limit.
func New(token string) *Server {
	s := &Server{
		token: token,
		team: Team{ID: "T0ACME0001", Name: "Acme", Domain: "acme",
			BotUserID: "U0GROUNDWK", BotID: "B0GROUNDWK"},
		users:    map[string]*User{},
		bots:     map[string]*Bot{},
		channels: map[string]*channel{},
		maxPage:  MaxPageSize,
		recent:   map[string][]time.Time{},
	}
	s.Core = fakeapi.New(fakeapi.Options{
		Handler:  http.HandlerFunc(s.serve),
		GateFunc: s.gate,
		FailFunc: func(w http.ResponseWriter, _ *http.Request, status int) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(status)
			fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
		},
		EndpointFunc: func(r *http.Request) string { return path.Base(r.URL.Path) },
		Secrets:      []string{"token"},
	})
	return s
}

// SetTeam replaces the workspace auth.test reports.
func (s *Server) SetTeam(t Team) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.team = t
}

// SetToken changes the token the fake accepts.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// AddUser seeds a member with a handle, a display name and an email.
func (s *Server) AddUser(id, name, displayName, email string) {
	s.AddUserProfile(User{ID: id, Name: name, DisplayName: displayName, RealName: displayName, Email: email})
}

// AddUserProfile seeds (or replaces) a member with every field given.
func (s *Server) AddUserProfile(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := u
	s.users[u.ID] = &cp
}

// AddBot seeds (or replaces) an integration.
func (s *Server) AddBot(id, name string) {
	s.AddBotProfile(Bot{ID: id, Name: name, AppID: "A" + strings.TrimPrefix(id, "B")})
}

// AddBotProfile seeds (or replaces) an integration with every field given.
func (s *Server) AddBotProfile(b Bot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := b
	s.bots[b.ID] = &cp
}

// AddChannel creates an empty channel (AddMessage creates channels too).
func (s *Server) AddChannel(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channelLocked(id)
}

func (s *Server) channelLocked(id string) *channel {
	ch, ok := s.channels[id]
	if !ok {
		ch = &channel{id: id, byTS: map[int64]*message{}}
		s.channels[id] = ch
	}
	return ch
}

// AddMessage seeds one message into channel. It fails for a malformed or
// duplicate ts and for a reply whose parent is unknown. Adding in ascending
// ts order is fastest; any order works.
func (s *Server) AddMessage(channelID string, m Message) error {
	micros, err := parseTS(m.TS)
	if err != nil {
		return fmt.Errorf("slackfake: message ts: %w", err)
	}
	var parentMicros int64
	isReply := m.ThreadTS != "" && m.ThreadTS != m.TS
	if isReply {
		if parentMicros, err = parseTS(m.ThreadTS); err != nil {
			return fmt.Errorf("slackfake: message thread_ts: %w", err)
		}
	}
	if m.Broadcast {
		m.Subtype = "thread_broadcast"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channelLocked(channelID)
	if _, dup := ch.byTS[micros]; dup {
		return fmt.Errorf("slackfake: channel %s already has a message at %s", channelID, m.TS)
	}
	msg := &message{Message: m, micros: micros}
	if isReply {
		parent, ok := ch.byTS[parentMicros]
		if !ok || (parent.ThreadTS != "" && parent.ThreadTS != parent.TS) {
			return fmt.Errorf("slackfake: channel %s has no thread parent %s", channelID, m.ThreadTS)
		}
		parent.ThreadTS = cmp.Or(parent.ThreadTS, parent.TS)
		parent.replies = fakeapi.InsertSorted(parent.replies, msg, byTS)
		if m.Broadcast {
			ch.history = fakeapi.InsertSorted(ch.history, msg, byTS)
		}
	} else {
		ch.history = fakeapi.InsertSorted(ch.history, msg, byTS)
	}
	ch.byTS[micros] = msg
	return nil
}

func byTS(a, b *message) bool { return a.micros < b.micros }

// EditMessage changes a message's text as an edit at editedTS would: the
// message keeps its ts and gains an "edited" field.
func (s *Server) EditMessage(channelID, ts, text, editedTS string) error {
	micros, err := parseTS(ts)
	if err != nil {
		return fmt.Errorf("slackfake: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[channelID]
	if !ok {
		return fmt.Errorf("slackfake: no channel %s", channelID)
	}
	m, ok := ch.byTS[micros]
	if !ok {
		return fmt.Errorf("slackfake: channel %s has no message at %s", channelID, ts)
	}
	m.Text = text
	m.Edited = &Edited{User: m.User, TS: editedTS}
	return nil
}

// DeleteMessage deletes a message as Slack does: a reply, or a message
// without replies, vanishes from history and replies; a thread parent that
// still has replies stays as a tombstone (subtype "tombstone", hidden,
// "This message was deleted." by USLACKBOT) so that its thread can be
// shown, and the tombstone goes with the thread's last reply.
func (s *Server) DeleteMessage(channelID, ts string) error {
	micros, err := parseTS(ts)
	if err != nil {
		return fmt.Errorf("slackfake: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[channelID]
	if !ok {
		return fmt.Errorf("slackfake: no channel %s", channelID)
	}
	m, ok := ch.byTS[micros]
	if !ok {
		return fmt.Errorf("slackfake: channel %s has no message at %s", channelID, ts)
	}
	remove := func(list []*message, m *message) []*message {
		out := list[:0]
		for _, x := range list {
			if x != m {
				out = append(out, x)
			}
		}
		return out
	}
	drop := func(m *message) {
		ch.history = remove(ch.history, m)
		delete(ch.byTS, m.micros)
	}
	if m.ThreadTS != "" && m.ThreadTS != m.TS {
		parent := ch.byTS[mustTS(m.ThreadTS)]
		parent.replies = remove(parent.replies, m)
		drop(m)
		if parent.hidden && len(parent.replies) == 0 {
			drop(parent)
		}
		return nil
	}
	if len(m.replies) == 0 {
		drop(m)
		return nil
	}
	m.Subtype, m.Text, m.User, m.BotID, m.Username = "tombstone", "This message was deleted.", "USLACKBOT", "", ""
	m.Edited, m.Files, m.Reactions, m.hidden = nil, nil, nil, true
	return nil
}

// SetMaxPageSize caps the limit honoured by history and replies (Slack:
// MaxPageSize; NonMarketplacePageSize for non-Marketplace apps). A larger
// limit is silently reduced, as Slack does.
func (s *Server) SetMaxPageSize(n int) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if n <= 0 {
		n = MaxPageSize
	}
	s.maxPage = n
}

// SetPerMinuteLimit limits conversations.history and conversations.replies
// to n requests per minute each, on the fake's clock (SetNow; 0 removes the
// limit). A request over it is answered 429 with Retry-After set to the
// seconds until a slot frees, as Slack does.
func (s *Server) SetPerMinuteLimit(n int) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	s.perMinute = n
	s.recent = map[string][]time.Time{}
}

// NonMarketplace applies Slack's 2025 limits for commercially distributed
// non-Marketplace apps: 15 messages per call and 1 request per minute on
// conversations.history and conversations.replies.
func (s *Server) NonMarketplace() {
	s.SetMaxPageSize(NonMarketplacePageSize)
	s.SetPerMinuteLimit(1)
}

// RateLimitNext makes the next n requests (any method) fail with HTTP 429
// and Retry-After: retryAfterSeconds.
func (s *Server) RateLimitNext(n, retryAfterSeconds int) {
	s.Inject(n, nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rateLimited(w, retryAfterSeconds)
	}))
}

// RequestsFor is the number of requests received for one method
// ("conversations.history"), including refused ones.
func (s *Server) RequestsFor(method string) int { return s.RequestsMatching(method) }

// Calls returns the requests received (the latest fakeapi.MaxLog), oldest
// first.
func (s *Server) Calls() []Call { return s.CallsFor("") }

// CallsFor returns the recorded requests of one method (every method when
// empty), oldest first.
func (s *Server) CallsFor(method string) []Call {
	var out []Call
	for _, r := range s.Log() {
		if method == "" || r.Endpoint == method {
			out = append(out, Call{Method: r.Endpoint, Form: r.Form, Status: r.Status, Error: r.Note})
		}
	}
	return out
}

// gate refuses what Slack refuses before any method runs: a method other
// than GET or POST, a form it cannot read, a missing or wrong token.
func (s *Server) gate(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, errorBody("invalid_form_data"))
		return false
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		_ = r.ParseMultipartForm(1 << 20)
	}
	tok := r.Form.Get("token")
	if h := r.Header.Get("Authorization"); tok == "" && strings.HasPrefix(h, "Bearer ") {
		tok = strings.TrimPrefix(h, "Bearer ")
	}
	s.mu.RLock()
	want := s.token
	s.mu.RUnlock()
	switch {
	case tok == "":
		writeJSON(w, errorBody("not_authed"))
	case tok != want:
		writeJSON(w, errorBody("invalid_auth"))
	default:
		return true
	}
	return false
}

// serve applies the per-minute limit, then runs the method.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	method, form := path.Base(r.URL.Path), r.Form
	if secs, limited := s.overLimit(method); limited {
		rateLimited(w, secs)
		return
	}
	var body any
	switch method {
	case MethodHistory:
		body = s.history(form)
	case MethodReplies:
		body = s.replies(form)
	case MethodUserInfo:
		body = s.userInfo(form)
	case MethodBotInfo:
		body = s.botInfo(form)
	case MethodAuthTest:
		body = s.authTest()
	case MethodConversationsInfo:
		body = s.conversationInfo(form)
	default:
		body = errorBody("unknown_method")
	}
	writeJSON(w, body)
}

// overLimit counts a request to method against the per-minute limit and
// says, for one over it, how many seconds remain until a slot frees.
func (s *Server) overLimit(method string) (int, bool) {
	now := s.Now()
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.perMinute <= 0 || (method != MethodHistory && method != MethodReplies) {
		return 0, false
	}
	rec := s.recent[method]
	i := 0
	for i < len(rec) && !rec[i].After(now.Add(-time.Minute)) {
		i++
	}
	rec = rec[i:]
	if len(rec) >= s.perMinute {
		s.recent[method] = rec
		wait := rec[0].Add(time.Minute).Sub(now)
		return max(int((wait+time.Second-1)/time.Second), 1), true
	}
	s.recent[method] = append(rec, now)
	return 0, false
}

func rateLimited(w http.ResponseWriter, secs int) {
	fakeapi.Limited(w)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSONStatus(w, http.StatusTooManyRequests, errorBody("ratelimited"))
}

// writeJSON answers 200 with body, as Slack answers API errors too, and
// notes an error's code in the log.
func writeJSON(w http.ResponseWriter, body any) { writeJSONStatus(w, http.StatusOK, body) }

func writeJSONStatus(w http.ResponseWriter, status int, body any) {
	if e, ok := body.(apiError); ok {
		fakeapi.Note(w, e.Error)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	fakeapi.WriteJSON(w, status, body)
}

// --- wire types ---

type apiError struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

func errorBody(code string) apiError { return apiError{OK: false, Error: code} }

type responseMetadata struct {
	NextCursor string `json:"next_cursor"`
}

type historyResponse struct {
	OK               bool             `json:"ok"`
	Messages         []wireMessage    `json:"messages"`
	HasMore          bool             `json:"has_more"`
	PinCount         int              `json:"pin_count"`
	ResponseMetadata responseMetadata `json:"response_metadata"`
}

type repliesResponse struct {
	OK               bool             `json:"ok"`
	Messages         []wireMessage    `json:"messages"`
	HasMore          bool             `json:"has_more"`
	ResponseMetadata responseMetadata `json:"response_metadata"`
}

type wireEdited struct {
	User string `json:"user"`
	TS   string `json:"ts"`
}

type wireIcons struct {
	Image36 string `json:"image_36,omitempty"`
	Image48 string `json:"image_48,omitempty"`
	Image72 string `json:"image_72,omitempty"`
}

// botIcons are the default icons of an app, as Slack serves them.
var botIcons = wireIcons{
	Image36: "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png",
	Image48: "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png",
	Image72: "https://a.slack-edge.com/80588/img/plugins/app/service_72.png",
}

type wireBotProfile struct {
	ID      string    `json:"id"`
	Deleted bool      `json:"deleted"`
	Name    string    `json:"name"`
	Updated int64     `json:"updated"`
	AppID   string    `json:"app_id"`
	Icons   wireIcons `json:"icons"`
	TeamID  string    `json:"team_id"`
}

type wireFile struct {
	ID         string `json:"id"`
	Created    int64  `json:"created"`
	Timestamp  int64  `json:"timestamp"`
	Name       string `json:"name"`
	Title      string `json:"title"`
	Mimetype   string `json:"mimetype"`
	Filetype   string `json:"filetype"`
	User       string `json:"user,omitempty"`
	Size       int    `json:"size"`
	URLPrivate string `json:"url_private"`
	Permalink  string `json:"permalink"`
}

type wireReaction struct {
	Name  string   `json:"name"`
	Users []string `json:"users"`
	Count int      `json:"count"`
}

type wireMessage struct {
	Type            string          `json:"type"`
	Subtype         string          `json:"subtype,omitempty"`
	User            string          `json:"user,omitempty"`
	BotID           string          `json:"bot_id,omitempty"`
	Username        string          `json:"username,omitempty"`
	Text            string          `json:"text"`
	Hidden          bool            `json:"hidden,omitempty"`
	TS              string          `json:"ts"`
	ThreadTS        string          `json:"thread_ts,omitempty"`
	ReplyCount      int             `json:"reply_count,omitempty"`
	ReplyUsersCount int             `json:"reply_users_count,omitempty"`
	LatestReply     string          `json:"latest_reply,omitempty"`
	ReplyUsers      []string        `json:"reply_users,omitempty"`
	IsLocked        *bool           `json:"is_locked,omitempty"`
	ParentUserID    string          `json:"parent_user_id,omitempty"`
	Edited          *wireEdited     `json:"edited,omitempty"`
	BotProfile      *wireBotProfile `json:"bot_profile,omitempty"`
	Files           []wireFile      `json:"files,omitempty"`
	Upload          bool            `json:"upload,omitempty"`
	Reactions       []wireReaction  `json:"reactions,omitempty"`
	Team            string          `json:"team,omitempty"`
}

// wire renders m as Slack would; parent is its thread's parent (nil for
// top-level messages). Call with s.mu held for reading.
func (s *Server) wire(m *message, parent *message) wireMessage {
	w := wireMessage{
		Type:     "message",
		Subtype:  m.Subtype,
		User:     m.User,
		BotID:    m.BotID,
		Username: m.Username,
		Text:     m.Text,
		Hidden:   m.hidden,
		TS:       m.TS,
		ThreadTS: m.ThreadTS,
	}
	if m.User != "" {
		w.Team = s.team.ID
	}
	if parent != nil {
		w.ParentUserID = parent.User
		w.ParentUserID = cmp.Or(w.ParentUserID, parent.BotID)
	}
	if n := len(m.replies); n > 0 {
		w.ReplyCount = n
		w.LatestReply = m.replies[n-1].TS
		seen := map[string]bool{}
		for _, r := range m.replies {
			u := cmp.Or(r.User, r.BotID)
			if u != "" && !seen[u] {
				seen[u] = true
				w.ReplyUsers = append(w.ReplyUsers, u)
			}
		}
		w.ReplyUsersCount = len(w.ReplyUsers)
		f := false
		w.IsLocked = &f
	}
	if m.Edited != nil {
		w.Edited = &wireEdited{User: m.Edited.User, TS: m.Edited.TS}
	}
	if m.BotID != "" && m.Subtype != "bot_message" {
		if b, ok := s.bots[m.BotID]; ok {
			w.BotProfile = &wireBotProfile{
				ID: b.ID, Name: b.Name, AppID: b.AppID, TeamID: s.team.ID, Updated: 1700000000,
				Icons: botIcons,
			}
		}
	}
	if len(m.Files) > 0 {
		sec := m.micros / 1e6
		for _, f := range m.Files {
			w.Files = append(w.Files, wireFile{
				ID: f.ID, Created: sec, Timestamp: sec, Name: f.Name, Title: f.Title,
				Mimetype: f.Mimetype, Filetype: strings.TrimPrefix(path.Ext(f.Name), "."),
				User: m.User, Size: f.Size,
				URLPrivate: "https://files.slack.com/files-pri/" + s.team.ID + "-" + f.ID + "/" + f.Name,
				Permalink:  "https://" + s.team.Domain + ".slack.com/files/" + m.User + "/" + f.ID + "/" + f.Name,
			})
		}
		w.Upload = true
	}
	for _, r := range m.Reactions {
		w.Reactions = append(w.Reactions, wireReaction{Name: r.Name, Users: r.Users, Count: len(r.Users)})
	}
	return w
}

// --- methods ---

// window is the parsed oldest/latest/inclusive/limit/cursor of a request.
type window struct {
	oldest, latest int64 // micros, both included after adjustment
	limit          int
	cursor         int64 // 0 = none; else the ts (micros) to resume at
}

func (s *Server) parseWindow(form url.Values) (window, string) {
	get := form.Get
	w := window{oldest: 0, latest: 1<<62 - 1}
	inclusive := get("inclusive") == "1" || get("inclusive") == "true"
	if v := get("oldest"); v != "" {
		o, err := parseTS(v)
		if err != nil {
			return w, "invalid_ts_oldest"
		}
		w.oldest = o
		if !inclusive {
			w.oldest++
		}
	}
	if v := get("latest"); v != "" && v != "now" {
		l, err := parseTS(v)
		if err != nil {
			return w, "invalid_ts_latest"
		}
		w.latest = l
		if !inclusive {
			w.latest--
		}
	}
	s.lmu.Lock()
	maxPage := s.maxPage
	s.lmu.Unlock()
	w.limit = DefaultPageSize
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return w, "invalid_limit"
		}
		if n > 0 {
			w.limit = n
		}
	}
	w.limit = min(w.limit, maxPage)
	if v := get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			return w, "invalid_cursor"
		}
		w.cursor = c
	}
	return w, ""
}

func (s *Server) history(form url.Values) any {
	w, code := s.parseWindow(form)
	if code != "" {
		return errorBody(code)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ch, ok := s.channels[form.Get("channel")]
	if !ok {
		return errorBody("channel_not_found")
	}
	top := w.latest
	if w.cursor != 0 {
		top = min(top, w.cursor)
	}
	// hi: index just past the newest message with micros <= top.
	hi := sort.Search(len(ch.history), func(i int) bool { return ch.history[i].micros > top })
	lo := sort.Search(len(ch.history), func(i int) bool { return ch.history[i].micros >= w.oldest })
	resp := historyResponse{OK: true, Messages: []wireMessage{}}
	i := hi - 1
	for ; i >= lo && len(resp.Messages) < w.limit; i-- {
		m := ch.history[i]
		var parent *message
		if m.ThreadTS != "" && m.ThreadTS != m.TS {
			parent = ch.byTS[mustTS(m.ThreadTS)]
		}
		resp.Messages = append(resp.Messages, s.wire(m, parent))
	}
	if i >= lo {
		resp.HasMore = true
		resp.ResponseMetadata.NextCursor = encodeCursor(ch.history[i].micros)
	}
	return resp
}

func (s *Server) replies(form url.Values) any {
	w, code := s.parseWindow(form)
	if code != "" {
		return errorBody(code)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	ch, ok := s.channels[form.Get("channel")]
	if !ok {
		return errorBody("channel_not_found")
	}
	tsv := form.Get("ts")
	if tsv == "" {
		return errorBody("invalid_arguments")
	}
	micros, err := parseTS(tsv)
	if err != nil {
		return errorBody("thread_not_found")
	}
	parent, ok := ch.byTS[micros]
	if !ok {
		return errorBody("thread_not_found")
	}
	if parent.ThreadTS != "" && parent.ThreadTS != parent.TS {
		// Asked with a reply's ts: Slack answers with the whole thread.
		parent = ch.byTS[mustTS(parent.ThreadTS)]
	}
	resp := repliesResponse{OK: true, Messages: []wireMessage{}}
	bottom := w.oldest
	if w.cursor != 0 {
		bottom = max(bottom, w.cursor)
	} else {
		// The first page starts with the parent, whatever the window.
		resp.Messages = append(resp.Messages, s.wire(parent, nil))
	}
	rs := parent.replies
	i := sort.Search(len(rs), func(i int) bool { return rs[i].micros >= bottom })
	for ; i < len(rs) && rs[i].micros <= w.latest && len(resp.Messages) < w.limit; i++ {
		resp.Messages = append(resp.Messages, s.wire(rs[i], parent))
	}
	if i < len(rs) && rs[i].micros <= w.latest {
		resp.HasMore = true
		resp.ResponseMetadata.NextCursor = encodeCursor(rs[i].micros)
	}
	return resp
}

func (s *Server) userInfo(form url.Values) any {
	now := s.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[form.Get("user")]
	if !ok {
		return errorBody("user_not_found")
	}
	first, last, _ := strings.Cut(u.RealName, " ")
	tz := cmp.Or(u.TZ, "Europe/London")
	// tz_offset is the zone's offset in seconds at the fake's now, as
	// Slack reports it; tz_label its name then.
	tzLabel, tzOffset := "Greenwich Mean Time", 0
	if loc, err := time.LoadLocation(tz); err == nil {
		tzLabel, tzOffset = now.In(loc).Zone()
	}
	img := "https://secure.gravatar.com/avatar/" + u.ID + ".jpg?s="
	return fakeapi.Obj("ok", true, "user", fakeapi.Obj(
		"id", u.ID, "team_id", s.team.ID, "name", u.Name, "deleted", u.Deleted, "color", "9f69e7",
		"real_name", u.RealName, "tz", tz, "tz_label", tzLabel, "tz_offset", tzOffset,
		"profile", fakeapi.Obj(
			"title", "", "phone", "", "skype", "", "real_name", u.RealName, "real_name_normalized", u.RealName,
			"display_name", u.DisplayName, "display_name_normalized", u.DisplayName,
			"status_text", "", "status_emoji", "", "status_expiration", 0, "avatar_hash", "ge3b51ca72de",
			"email", fakeapi.OmitEmpty(u.Email), "first_name", first, "last_name", last,
			"image_24", img+"24", "image_32", img+"32", "image_48", img+"48", "image_72", img+"72",
			"image_192", img+"192", "image_512", img+"512", "team", s.team.ID),
		"is_admin", false, "is_owner", false, "is_primary_owner", false, "is_restricted", false,
		"is_ultra_restricted", false, "is_bot", u.IsBot, "is_app_user", false, "updated", 1700000000,
		"is_email_confirmed", u.Email != "", "has_2fa", false, "locale", "en-GB"))
}

type wireBot struct {
	ID      string    `json:"id"`
	Deleted bool      `json:"deleted"`
	Name    string    `json:"name"`
	Updated int64     `json:"updated"`
	AppID   string    `json:"app_id"`
	UserID  string    `json:"user_id"`
	Icons   wireIcons `json:"icons"`
}

func (s *Server) botInfo(form url.Values) any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.bots[form.Get("bot")]
	if !ok {
		return errorBody("bot_not_found")
	}
	return struct {
		OK  bool    `json:"ok"`
		Bot wireBot `json:"bot"`
	}{OK: true, Bot: wireBot{ID: b.ID, Name: b.Name, Updated: 1700000000, AppID: b.AppID, UserID: b.UserID, Icons: botIcons}}
}

func (s *Server) authTest() any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return struct {
		OK                  bool   `json:"ok"`
		URL                 string `json:"url"`
		Team                string `json:"team"`
		User                string `json:"user"`
		TeamID              string `json:"team_id"`
		UserID              string `json:"user_id"`
		BotID               string `json:"bot_id"`
		IsEnterpriseInstall bool   `json:"is_enterprise_install"`
	}{OK: true, URL: "https://" + s.team.Domain + ".slack.com/", Team: s.team.Name, User: "groundwork",
		TeamID: s.team.ID, UserID: s.team.BotUserID, BotID: s.team.BotID}
}

// --- helpers ---

// parseTS turns "1512085950.000216" (or "1512085950", or a fraction of
// fewer than six digits) into microseconds since the epoch.
func parseTS(ts string) (int64, error) {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || s < 0 || len(frac) > 6 {
		return 0, fmt.Errorf("malformed Slack timestamp %q", ts)
	}
	var f int64
	if frac != "" {
		f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("malformed Slack timestamp %q", ts)
		}
	}
	return s*1e6 + f, nil
}

func mustTS(ts string) int64 {
	v, _ := parseTS(ts)
	return v
}

// TS formats microseconds since the epoch as a Slack timestamp.
func TS(micros int64) string {
	return fmt.Sprintf("%d.%06d", micros/1e6, micros%1e6)
}

// TimeTS formats t as a Slack timestamp (microseconds, truncated).
func TimeTS(t time.Time) string { return TS(t.UnixMicro()) }

// Cursors look like Slack's: base64 of "next_ts:<ts digits>".
func encodeCursor(micros int64) string { return fakeapi.Cursor("next_ts", micros) }

func decodeCursor(c string) (int64, error) { return fakeapi.ParseCursor("next_ts", c) }
