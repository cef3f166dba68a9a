package slack

import (
	"context"
	"errors"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
)

// Every collected message names its channel, and the collector asks
// conversations.info once per channel and run, however many messages.
func TestChannelNameRecorded(t *testing.T) {
	b := setup(t, nil, nil)
	seedIncidentChannel(t, b)
	events, err := b.collect(t, window("C0CHECKOUT"))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 5 {
		t.Fatalf("%d events", len(events))
	}
	for _, e := range events {
		if got := e.Details["channel_name"]; got != "checkout" {
			t.Errorf("%s: channel_name %v, want checkout", e.ID, got)
		}
	}
	if n := b.fake.RequestsFor(slackfake.MethodConversationsInfo); n != 1 {
		t.Errorf("conversations.info called %d times for one channel, want 1", n)
	}
}

// A channel Slack will not describe leaves the detail out; a lookup that
// fails for another reason fails the message, as a user lookup does, and
// is not cached.
func TestChannelNameUnknownOrFailing(t *testing.T) {
	b := setup(t, nil, nil)
	b.fake.AddUser("U1", "alice", "Alice", "a@x.test")
	b.fake.SetChannelName("C1", "ops")
	ctx := context.Background()
	users := b.col.NewUserResolver()
	hello := slackapi.Msg{Type: "message", User: "U1", Text: "hello", Timestamp: ts(time.Minute)}
	m := func(ch string) error {
		e, err := NormalizeMessage(ctx, ch, "", hello, users)
		if err == nil {
			if name, ok := e.Details["channel_name"]; ok && ch == "C404" {
				t.Errorf("unknown channel named %v", name)
			}
		}
		return err
	}
	if err := m("C404"); err != nil {
		t.Errorf("unknown channel: %v, want the message without a name", err)
	}
	b.fake.FailNext(6, 500)
	if err := m("C1"); err == nil || errors.Is(err, ErrUnknown) {
		t.Errorf("failing lookup: %v, want an error that is not ErrUnknown", err)
	}
	e, err := NormalizeMessage(ctx, "C1", "", hello, users)
	if err != nil || e.Details["channel_name"] != "ops" {
		t.Errorf("after the failure: %v %v, want channel_name ops", e.Details, err)
	}
	// Without a ChannelResolver there is no name and no call.
	before := b.fake.RequestsFor(slackfake.MethodConversationsInfo)
	e, err = NormalizeMessage(ctx, "C1", "", hello, nil)
	if _, ok := e.Details["channel_name"]; ok || err != nil || b.fake.RequestsFor(slackfake.MethodConversationsInfo) != before {
		t.Errorf("no resolver: %v %v", e.Details, err)
	}
}
