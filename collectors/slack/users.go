package slack

import (
	"context"
	"errors"
	"fmt"
	"sync"

	slackapi "github.com/slack-go/slack"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/timeline"
)

// UserCache is a UserResolver over the Slack Web API (users.info, bots.info)
// that asks about each id at most once while it lives, even when several
// goroutines want the same id at once. Answers where Slack knew no usable
// name (user_not_found, missing_scope, …) are cached too; failures of the
// request itself (network, rate limit, cancelled context) are not, so a later
// call tries again.
//
// The collector makes one per run. A long-lived one (live capture) never
// notices renames; replace it now and then.
type UserCache struct {
	api   *slackapi.Client
	users memo[timeline.Actor]
	bots  memo[string]
	// channels are channel names (ChannelName, channels.go).
	channels memo[string]
}

var _ UserResolver = (*UserCache)(nil)

// NewUserResolver returns an empty cache that resolves through api.
func NewUserResolver(api *slackapi.Client) *UserCache {
	return &UserCache{api: api}
}

// User implements UserResolver: the display name, else the real name, else
// the handle, and the profile email.
func (u *UserCache) User(ctx context.Context, id string) (timeline.Actor, error) {
	return u.users.get(ctx, id, func(ctx context.Context) (timeline.Actor, error) {
		usr, err := u.api.GetUserInfoContext(ctx, id)
		if err != nil {
			return timeline.Actor{}, classify(err)
		}
		if usr.ID == "" {
			return timeline.Actor{}, fmt.Errorf("%w: no \"user\"", collectors.ErrWrongShape)
		}
		name := usr.Profile.DisplayName
		if name == "" {
			name = usr.Profile.RealName
		}
		if name == "" {
			name = usr.RealName
		}
		if name == "" {
			name = usr.Name
		}
		if name == "" {
			name = id
		}
		return timeline.Actor{ID: id, Name: name, Email: usr.Profile.Email, TimeZone: usr.TZ,
			Bot: usr.IsBot || id == slackbotID}, nil
	})
}

// slackbotID is Slackbot's user id: a system user, not a person.
const slackbotID = "USLACKBOT"

// Bot implements UserResolver.
func (u *UserCache) Bot(ctx context.Context, id string) (string, error) {
	return u.bots.get(ctx, id, func(ctx context.Context) (string, error) {
		b, err := u.api.GetBotInfoContext(ctx, slackapi.GetBotInfoParameters{Bot: id})
		if err != nil {
			return "", classify(err)
		}
		if b.ID == "" {
			return "", fmt.Errorf("%w: no \"bot\"", collectors.ErrWrongShape)
		}
		if b.Name == "" {
			return "", fmt.Errorf("%w: bot %s has no name", ErrUnknown, id)
		}
		return b.Name, nil
	})
}

// classify marks Slack's own refusals (ok:false) as ErrUnknown and turns
// rate limits into *collectors.RateLimitError; other errors pass unchanged.
func classify(err error) error {
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return fmt.Errorf("%w: %s", ErrUnknown, se.Err)
	}
	return apiError(err)
}

// memo caches one value per key, with one lookup in flight per key.
type memo[V any] struct {
	mu sync.Mutex
	m  map[string]*memoEntry[V]
}

type memoEntry[V any] struct {
	done chan struct{}
	v    V
	err  error
}

func (c *memo[V]) get(ctx context.Context, key string, fetch func(context.Context) (V, error)) (V, error) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]*memoEntry[V]{}
	}
	if e, ok := c.m[key]; ok {
		c.mu.Unlock()
		select {
		case <-e.done:
			if e.err != nil && !errors.Is(e.err, ErrUnknown) {
				// The lookup that failed has been forgotten; try again.
				return c.get(ctx, key, fetch)
			}
			return e.v, e.err
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
	}
	e := &memoEntry[V]{done: make(chan struct{})}
	c.m[key] = e
	c.mu.Unlock()

	e.v, e.err = fetch(ctx)
	if e.err != nil && !errors.Is(e.err, ErrUnknown) {
		c.mu.Lock()
		delete(c.m, key)
		c.mu.Unlock()
	}
	close(e.done)
	return e.v, e.err
}
