package slack

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"github.com/groundwork-dev/groundwork/timeline"
)

// titleLen is the longest title, in runes.
const titleLen = 120

// Every Normalize function returns its event through timeline.MakeStorable:
// NUL characters and invalid UTF-8 that the upstream sent are replaced, so
// that one message can never make a write fail.

// UserResolver resolves the Slack users and bots a message names. The
// collector uses a per-run cache (NewUserResolver); a webhook receiver can
// keep one for live capture so that live events carry the same names.
type UserResolver interface {
	// User returns the person behind a user id (U…/W…): ID, display name
	// and profile email. It returns an error wrapping ErrUnknown when Slack
	// does not know the user or will not say (user_not_found, missing_scope,
	// …), and any other error (network, rate limit, cancelled context) as it
	// came.
	User(ctx context.Context, id string) (timeline.Actor, error)
	// Bot returns the name of a bot id (B…), with the same errors as User.
	Bot(ctx context.Context, id string) (string, error)
}

// ErrUnknown is wrapped by a UserResolver's errors when Slack answered but
// gave no usable name. Normalisation then falls back to the id.
var ErrUnknown = errors.New("slack: user or bot not resolvable")

// MessageID is the event id of a message: slack:message:{channel}:{ts}.
func MessageID(channel, ts string) string {
	return timeline.EventID(timeline.SourceSlack, "message", channel, ts)
}

// ParseTS turns a Slack timestamp ("1512085950.000216") into a UTC time,
// keeping the microseconds.
func ParseTS(ts string) (time.Time, error) {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || s < 0 || len(frac) > 6 {
		return time.Time{}, fmt.Errorf("%w: malformed Slack timestamp %q", timeline.ErrInvalid, ts)
	}
	var us int64
	if frac != "" {
		us, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil || us < 0 {
			return time.Time{}, fmt.Errorf("%w: malformed Slack timestamp %q", timeline.ErrInvalid, ts)
		}
	}
	return time.Unix(s, us*1000).UTC(), nil
}

// FormatTS writes t as a Slack timestamp, truncated to the microsecond.
func FormatTS(t time.Time) string {
	us := t.UnixMicro()
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

// ceilTS writes t as a Slack timestamp, rounded up to the microsecond, so
// that no message before t is asked for.
func ceilTS(t time.Time) string {
	if t.Nanosecond()%1000 != 0 {
		t = t.Truncate(time.Microsecond).Add(time.Microsecond)
	}
	return FormatTS(t)
}

// Permalink builds the link Slack's "Copy link" gives for a message, from the
// workspace URL auth.test reports ("https://acme.slack.com/"). A thread reply
// links into its thread. It returns "" when workspaceURL is empty.
func Permalink(workspaceURL, channel, ts, threadTS string) string {
	if workspaceURL == "" {
		return ""
	}
	u := strings.TrimSuffix(workspaceURL, "/") + "/archives/" + channel + "/p" + strings.Replace(ts, ".", "", 1)
	if threadTS != "" && threadTS != ts {
		u += "?thread_ts=" + threadTS + "&cid=" + channel
	}
	return u
}

// IsReply reports whether m is a thread reply (its thread_ts names another
// message).
func IsReply(m slackapi.Msg) bool {
	return m.ThreadTimestamp != "" && m.ThreadTimestamp != m.Timestamp
}

// IsThreadParent reports whether m started a thread that has replies.
func IsThreadParent(m slackapi.Msg) bool {
	return m.ReplyCount > 0 && !IsReply(m)
}

// MsgSubTypeTombstone is the subtype of a deleted thread parent that still
// has replies: history keeps it as "This message was deleted." so that the
// thread can be shown. To a timeline it is a deletion of the parent.
const MsgSubTypeTombstone = "tombstone"

// Storable reports whether m is a message a timeline keeps: not a deletion,
// a hidden bookkeeping message or a deleted thread parent's tombstone.
func Storable(m slackapi.Msg) bool {
	if m.Timestamp == "" || m.Hidden {
		return false
	}
	switch m.SubType {
	case slackapi.MsgSubTypeMessageDeleted, slackapi.MsgSubTypeMessageReplied,
		slackapi.MsgSubTypeMessageChanged, MsgSubTypeTombstone:
		return false
	}
	return true
}

// NormalizeMessage turns one message of channel, as conversations.history,
// conversations.replies or a `message` event carries it, into an event:
//
//   - id slack:message:{channel}:{ts}, occurred_at = ts in UTC (microseconds);
//   - kind chat.joined for channel_join, chat.reply for a thread reply
//     (thread_ts != ts, broadcast or not), chat.message otherwise;
//   - actor: the user with resolved display name and profile email, also
//     when an app posted the message naming a user (the bot is then in
//     details: bot_id, and bot_name when the message carries it); for a bot
//     message without a user, the bot (id = bot_id, name = the username it
//     posted as, else its bot_profile name, else bots.info);
//   - version (Event.Version): the edit's ts, else ts, so that an older
//     version never replaces a newer one, whichever arrives last;
//   - text with <@U…> mentions, <#C…|name> channels, <!here> and links made
//     readable; url a permalink under workspaceURL;
//   - details: channel, thread_ts (replies and parents), reply_count,
//     subtype, edited_ts, bot_id, bot_name, files (count), reactions
//     (name → count), and channel_name when users is also a
//     ChannelResolver that knows it.
//
// An edited message keeps its id and carries its current text and edited_ts,
// so storing it again updates the event in place. Names Slack will not give
// fall back to the id. The error is non-nil only for a malformed ts
// (wrapping timeline.ErrInvalid) or when resolving a name failed for a reason
// other than ErrUnknown (network, rate limit, ctx).
func NormalizeMessage(ctx context.Context, channel, workspaceURL string, m slackapi.Msg, users UserResolver) (timeline.Event, error) {
	at, err := ParseTS(m.Timestamp)
	if err != nil {
		return timeline.Event{}, err
	}
	actor, err := messageActor(ctx, m, users)
	if err != nil {
		return timeline.Event{}, err
	}
	text, err := PlainText(ctx, m.Text, users)
	if err != nil {
		return timeline.Event{}, err
	}

	kind := timeline.KindChatMessage
	switch {
	case m.SubType == slackapi.MsgSubTypeChannelJoin || m.SubType == slackapi.MsgSubTypeGroupJoin:
		kind = timeline.KindChatJoined
	case IsReply(m):
		kind = timeline.KindChatReply
	}

	details := map[string]any{"channel": channel}
	if m.ThreadTimestamp != "" && (IsReply(m) || m.ReplyCount > 0) {
		details["thread_ts"] = m.ThreadTimestamp
	}
	if m.ReplyCount > 0 {
		details["reply_count"] = m.ReplyCount
	}
	if m.SubType != "" {
		details["subtype"] = m.SubType
	}
	if m.Edited != nil && m.Edited.Timestamp != "" {
		details["edited_ts"] = m.Edited.Timestamp
	}
	if m.BotID != "" {
		details["bot_id"] = m.BotID
		if name := botName(m); name != "" && m.User != "" {
			details["bot_name"] = name
		}
	}
	if n := len(m.Files); n > 0 {
		details["files"] = n
	}
	if len(m.Reactions) > 0 {
		r := make(map[string]any, len(m.Reactions))
		for _, x := range m.Reactions {
			r[x.Name] = x.Count
		}
		details["reactions"] = r
	}
	if name, err := channelName(ctx, channel, users); err != nil {
		return timeline.Event{}, err
	} else if name != "" {
		details[timeline.DetailChannelName] = name
	}

	version := at
	if m.Edited != nil && m.Edited.Timestamp != "" {
		if v, err := ParseTS(m.Edited.Timestamp); err == nil && v.After(at) {
			version = v
		}
	}

	return timeline.MakeStorable(timeline.Event{
		ID:         MessageID(channel, m.Timestamp),
		Source:     timeline.SourceSlack,
		Kind:       kind,
		OccurredAt: at,
		Actor:      actor,
		Title:      title(kind, actor, text, len(m.Files)),
		Text:       text,
		URL:        Permalink(workspaceURL, channel, m.Timestamp, m.ThreadTimestamp),
		Details:    details,
		Version:    version,
	}), nil
}

// Deletion returns the tombstone (timeline.Event.Deleted) of the message ts
// of channel, deleted at deletedAt or, when that is unknown, known to be
// deleted by then: storing it removes the message from its timelines. A
// reply (threadTS names another message) keeps its kind. The error wraps
// timeline.ErrInvalid for a malformed ts.
func Deletion(channel, ts, threadTS string, deletedAt time.Time) (timeline.Event, error) {
	at, err := ParseTS(ts)
	if err != nil {
		return timeline.Event{}, err
	}
	kind := timeline.KindChatMessage
	if threadTS != "" && threadTS != ts {
		kind = timeline.KindChatReply
	}
	if deletedAt.Before(at) {
		deletedAt = at
	}
	return timeline.Event{
		ID: MessageID(channel, ts), Source: timeline.SourceSlack, Kind: kind, OccurredAt: at,
		Details: map[string]any{"channel": channel}, Version: deletedAt.UTC(), Deleted: true,
	}, nil
}

// NormalizeMessageEvent turns a `message` event of the Events API into the
// event that collecting the same message later gives (same id and fields).
// A message_changed event yields the edited message in its current state
// under its original ts (previous_message's ts when the message carries
// none). A message_deleted event, and a message_changed that leaves a
// tombstone of a thread parent, yield the message's Deletion, versioned by
// the event's ts. Other hidden bookkeeping events report ok == false.
// Errors are those of NormalizeMessage.
func NormalizeMessageEvent(ctx context.Context, workspaceURL string, ev *slackevents.MessageEvent, users UserResolver) (e timeline.Event, ok bool, err error) {
	if ev == nil {
		return timeline.Event{}, false, nil
	}
	channel := ev.Channel
	var m slackapi.Msg
	switch {
	case ev.SubType == slackapi.MsgSubTypeMessageDeleted:
		ts, threadTS := ev.DeletedTimeStamp, ""
		if p := ev.PreviousMessage; p != nil {
			if ts == "" {
				ts = p.Timestamp
			}
			threadTS = p.ThreadTimestamp
		}
		if ts == "" {
			return timeline.Event{}, false, nil
		}
		e, err := Deletion(channel, ts, threadTS, eventTime(ev))
		return e, err == nil, err
	case ev.SubType == slackapi.MsgSubTypeMessageChanged:
		if ev.Message == nil {
			return timeline.Event{}, false, nil
		}
		m = *ev.Message
		if m.Timestamp == "" && ev.PreviousMessage != nil {
			m.Timestamp = ev.PreviousMessage.Timestamp
		}
		if m.SubType == MsgSubTypeTombstone && m.Timestamp != "" {
			if channel == "" {
				channel = m.Channel
			}
			e, err := Deletion(channel, m.Timestamp, m.ThreadTimestamp, eventTime(ev))
			return e, err == nil, err
		}
	case ev.Message != nil:
		m = *ev.Message
	default:
		m = slackapi.Msg{
			Type: ev.Type, User: ev.User, Text: ev.Text, Timestamp: ev.TimeStamp,
			ThreadTimestamp: ev.ThreadTimeStamp, SubType: ev.SubType, BotID: ev.BotID,
			Username: ev.Username,
		}
	}
	if !Storable(m) {
		return timeline.Event{}, false, nil
	}
	if channel == "" {
		channel = m.Channel
	}
	e, err = NormalizeMessage(ctx, channel, workspaceURL, m, users)
	if err != nil {
		return timeline.Event{}, false, err
	}
	return e, true, nil
}

// eventTime is when Slack sent a bookkeeping event (its ts, else event_ts);
// zero when neither parses.
func eventTime(ev *slackevents.MessageEvent) time.Time {
	for _, ts := range []string{ev.TimeStamp, ev.EventTimeStamp} {
		if t, err := ParseTS(ts); err == nil && ts != "" {
			return t
		}
	}
	return time.Time{}
}

// botName is the name a bot message carries itself: the username it posted
// as, else its bot_profile's name.
func botName(m slackapi.Msg) string {
	if m.Username != "" {
		return m.Username
	}
	if m.BotProfile != nil {
		return m.BotProfile.Name
	}
	return ""
}

func messageActor(ctx context.Context, m slackapi.Msg, users UserResolver) (*timeline.Actor, error) {
	if m.BotID != "" && m.User == "" {
		name := botName(m)
		if name == "" && users != nil {
			n, err := users.Bot(ctx, m.BotID)
			if err != nil && !errors.Is(err, ErrUnknown) {
				return nil, fmt.Errorf("bots.info %s: %w", m.BotID, err)
			}
			name = n
		}
		if name == "" {
			name = m.BotID
		}
		return &timeline.Actor{ID: m.BotID, Name: name, Bot: true}, nil
	}
	if m.User == "" {
		if m.Username != "" {
			// A message with a username and no user is an integration's.
			return &timeline.Actor{ID: m.Username, Name: m.Username, Bot: m.SubType == slackapi.MsgSubTypeBotMessage}, nil
		}
		return nil, nil
	}
	a, err := resolveUser(ctx, m.User, users)
	if err != nil {
		return nil, err
	}
	if m.User == slackbotID || m.SubType == slackapi.MsgSubTypeBotMessage {
		a.Bot = true
	}
	return &a, nil
}

func resolveUser(ctx context.Context, id string, users UserResolver) (timeline.Actor, error) {
	if users == nil {
		return timeline.Actor{ID: id, Name: id}, nil
	}
	a, err := users.User(ctx, id)
	if err != nil {
		if errors.Is(err, ErrUnknown) {
			return timeline.Actor{ID: id, Name: id}, nil
		}
		return timeline.Actor{}, fmt.Errorf("users.info %s: %w", id, err)
	}
	if a.ID == "" {
		a.ID = id
	}
	if a.Name == "" {
		a.Name = id
	}
	return a, nil
}

func title(kind string, actor *timeline.Actor, text string, files int) string {
	who := "Someone"
	if actor != nil && actor.Name != "" {
		who = actor.Name
	}
	if kind == timeline.KindChatJoined {
		if text != "" {
			return timeline.Truncate(text, titleLen)
		}
		return timeline.Truncate(who+" joined the channel", titleLen)
	}
	body := strings.TrimSpace(text)
	if body == "" {
		switch {
		case files == 1:
			body = "shared a file"
		case files > 1:
			body = "shared " + strconv.Itoa(files) + " files"
		default:
			body = "(no text)"
		}
	}
	if kind == timeline.KindChatReply {
		return timeline.Truncate(who+" (in thread): "+body, titleLen)
	}
	return timeline.Truncate(who+": "+body, titleLen)
}

// PlainText turns Slack's message formatting into readable text: user
// mentions <@U…> and <@U…|label> become @DisplayName (resolved through
// users; the label, else the id, when Slack will not say), channel
// references <#C…|name> become #name, <!here>, <!channel>, <!everyone> and
// user groups <!subteam^S…|@team> become @here …, links <url|label> become
// "label (url)" and <url> the url, and &lt; &gt; &amp; are unescaped. Its
// error is that of the resolver, for anything but ErrUnknown.
func PlainText(ctx context.Context, text string, users UserResolver) (string, error) {
	if !strings.ContainsAny(text, "<&") {
		return text, nil
	}
	var b strings.Builder
	b.Grow(len(text))
	rest := text
	for {
		i := strings.IndexByte(rest, '<')
		if i < 0 {
			b.WriteString(unescape(rest))
			break
		}
		j := strings.IndexByte(rest[i:], '>')
		if j < 0 {
			b.WriteString(unescape(rest))
			break
		}
		b.WriteString(unescape(rest[:i]))
		tok := rest[i+1 : i+j]
		rest = rest[i+j+1:]
		ref, label, hasLabel := strings.Cut(tok, "|")
		switch {
		case strings.HasPrefix(ref, "@"):
			id := ref[1:]
			name := label
			if users != nil {
				a, err := users.User(ctx, id)
				switch {
				case err == nil && a.Name != "":
					name = a.Name
				case err != nil && !errors.Is(err, ErrUnknown):
					return "", fmt.Errorf("users.info %s: %w", id, err)
				}
			}
			if name == "" {
				name = id
			}
			b.WriteString("@" + strings.TrimPrefix(name, "@"))
		case strings.HasPrefix(ref, "#"):
			name := label
			if name == "" {
				name = ref[1:]
			}
			b.WriteString("#" + name)
		case strings.HasPrefix(ref, "!"):
			cmd := ref[1:]
			switch {
			case hasLabel && label != "":
				b.WriteString(unescape(label))
			case strings.HasPrefix(cmd, "subteam^"):
				b.WriteString("@" + strings.TrimPrefix(cmd, "subteam^"))
			default:
				b.WriteString("@" + cmd)
			}
		default:
			u := unescape(ref)
			if hasLabel && label != "" && unescape(label) != u {
				b.WriteString(unescape(label) + " (" + u + ")")
			} else {
				b.WriteString(u)
			}
		}
	}
	return b.String(), nil
}

var unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

func unescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	return unescaper.Replace(s)
}
