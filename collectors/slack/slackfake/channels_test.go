package slackfake_test

import (
	"context"
	"errors"
	"testing"

	slackapi "github.com/slack-go/slack"
)

// conversations.info answers as Slack does: the channel object for a
// channel it has (named, or after its id), channel_not_found otherwise.
func TestConversationsInfo(t *testing.T) {
	fake, _, api := setup(t)
	fake.SetChannelName("C0CHECKOUT", "checkout")
	fake.AddChannel("C0OTHER")
	ctx := context.Background()
	for id, want := range map[string]string{"C0CHECKOUT": "checkout", "C0OTHER": "c0other"} {
		ch, err := api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: id})
		if err != nil || ch.ID != id || ch.Name != want || ch.NameNormalized != want || !ch.IsChannel || ch.IsPrivate {
			t.Errorf("conversations.info %s: %+v, %v; want name %q", id, ch, err, want)
		}
	}
	_, err := api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: "C404"})
	var se slackapi.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "channel_not_found" {
		t.Errorf("unknown channel: %v, want channel_not_found", err)
	}
	fake.SetToken("other")
	if _, err := api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: "C0CHECKOUT"}); !errors.As(err, &se) || se.Err != "invalid_auth" {
		t.Errorf("wrong token: %v, want invalid_auth", err)
	}
}
