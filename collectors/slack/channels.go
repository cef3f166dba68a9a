package slack

import (
	"context"
	"errors"
	"fmt"

	slackapi "github.com/slack-go/slack"
)

// ChannelResolver names Slack channels. A UserResolver that is also a
// ChannelResolver (UserCache is) makes NormalizeMessage record the channel's
// name as the detail "channel_name", so that a timeline can say #checkout
// rather than C0CHECKOUT.
type ChannelResolver interface {
	// ChannelName returns the name of channel id, without '#'. It returns
	// an error wrapping ErrUnknown when Slack does not know the channel or
	// will not say (channel_not_found, missing_scope: the app lacks
	// channels:read), and any other error (network, rate limit, cancelled
	// context) as it came.
	ChannelName(ctx context.Context, id string) (string, error)
}

var _ ChannelResolver = (*UserCache)(nil)

// ChannelName implements ChannelResolver through conversations.info, once
// per channel while the cache lives.
func (u *UserCache) ChannelName(ctx context.Context, id string) (string, error) {
	return u.channels.get(ctx, id, func(ctx context.Context) (string, error) {
		ch, err := u.api.GetConversationInfoContext(ctx, &slackapi.GetConversationInfoInput{ChannelID: id})
		if err != nil {
			return "", classify(err)
		}
		if ch == nil || ch.Name == "" {
			return "", fmt.Errorf("%w: channel %s has no name", ErrUnknown, id)
		}
		return ch.Name, nil
	})
}

// channelName is the name of channel when users can tell it, else "". Its
// error is that of the resolver, for anything but ErrUnknown.
func channelName(ctx context.Context, channel string, users UserResolver) (string, error) {
	cr, ok := users.(ChannelResolver)
	if !ok || channel == "" {
		return "", nil
	}
	name, err := cr.ChannelName(ctx, channel)
	switch {
	case err == nil:
		return name, nil
	case errors.Is(err, ErrUnknown):
		return "", nil
	}
	return "", fmt.Errorf("conversations.info %s: %w", channel, err)
}
