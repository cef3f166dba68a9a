package slack

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/collectors"
	"github.com/groundwork-dev/groundwork/collectors/internal/faults"
	"github.com/groundwork-dev/groundwork/collectors/slack/slackfake"
	"github.com/groundwork-dev/groundwork/timeline"
)

// hangGuard only bounds a regression that would hang; a passing test never
// comes near it.
const hangGuard = time.Minute

// setupFaulty is setup with the fake served through wrap, for faults the
// fake does not model, and a seeded channel C1 with a thread and a user.
func setupFaulty(t *testing.T, wrap func(http.Handler) http.Handler, optFn func(*Options)) *bundle {
	t.Helper()
	b := &bundle{fake: slackfake.New(testToken)}
	b.srv = httptest.NewServer(wrap(b.fake))
	t.Cleanup(b.srv.Close)
	opts := Options{
		ClientOptions: collectors.ClientOptions{SleepFunc: func(ctx context.Context, d time.Duration) error {
			b.mu.Lock()
			b.waits = append(b.waits, d)
			b.mu.Unlock()
			return ctx.Err()
		}},
		Limiter: rate.NewLimiter(rate.Inf, 1),
	}
	if optFn != nil {
		optFn(&opts)
	}
	col, err := New(Config{Token: testToken, APIURL: b.srv.URL + "/api/", SigningSecret: "s"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	b.col = col
	b.fake.AddUser("U1", "alice", "Alice", "alice@acme.test")
	b.fake.AddBot("B1", "")
	b.add(t, "C1", slackfake.Message{TS: ts(time.Minute), User: "U1", Text: "parent <@U1>"})
	b.add(t, "C1", slackfake.Message{TS: ts(2 * time.Minute), User: "U1", Text: "reply", ThreadTS: ts(time.Minute)})
	b.add(t, "C1", slackfake.Message{TS: ts(3 * time.Minute), BotID: "B1", Subtype: "bot_message", Text: "beep"})
	return b
}

func (b *bundle) collectGuarded(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	err := b.col.Collect(ctx, window("C1"), func(e timeline.Event) error { return nil })
	if ctx.Err() != nil {
		t.Fatalf("the hang guard ended the collection: %v", err)
	}
	return err
}

// A redirect from Slack to another host (a port counts) is refused and
// reported as the source's error; the other server receives nothing: not
// the token slack-go puts in the form body a 307 would replay.
func TestRedirectToAnotherHostIsRefused(t *testing.T) {
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		rec := faults.NewRecorder(t)
		b := setupFaulty(t, func(h http.Handler) http.Handler {
			return faults.Intercept(h, faults.PathSuffix("/conversations.history"), faults.Redirect(rec.URL, status))
		}, nil)
		err := b.collectGuarded(t)
		if !errors.Is(err, collectors.ErrRedirectRefused) || !strings.Contains(err.Error(), "conversations.history") {
			t.Errorf("%d: err = %v, want ErrRedirectRefused naming conversations.history", status, err)
		}
		if got := rec.Received(); len(got) != 0 {
			t.Errorf("%d: the other host received %+v", status, got)
		}
	}
}

// A 200 answer without the list (or object) asked for fails the source with
// an error naming the method, instead of counting as zero messages.
func TestWrongShapedAnswersFail(t *testing.T) {
	for _, tc := range []struct{ method, body string }{
		{slackfake.MethodHistory, `{"ok":true}`},
		{slackfake.MethodHistory, `{"ok":true,"messages":null,"has_more":false}`},
		{slackfake.MethodReplies, `{"ok":true,"has_more":false}`},
		{slackfake.MethodUserInfo, `{"ok":true}`},
		{slackfake.MethodBotInfo, `{"ok":true}`},
		{slackfake.MethodAuthTest, `{"ok":true,"team":"Acme"}`},
	} {
		b := setupFaulty(t, func(h http.Handler) http.Handler {
			return faults.Intercept(h, faults.PathSuffix("/"+tc.method), faults.JSON(tc.body))
		}, nil)
		err := b.collectGuarded(t)
		if !errors.Is(err, collectors.ErrWrongShape) || !strings.Contains(err.Error(), tc.method) {
			t.Errorf("%s answering %s: err = %v, want ErrWrongShape naming the method", tc.method, tc.body, err)
		}
	}
	// An empty channel is still a success.
	b := setupFaulty(t, func(h http.Handler) http.Handler { return h }, nil)
	b.fake.AddChannel("C2")
	if err := b.col.Collect(context.Background(), window("C2"), func(timeline.Event) error { return nil }); err != nil {
		t.Errorf("empty channel: %v", err)
	}
}

// A body that stops after a few bytes fails after the idle timeout with an
// error naming the call, instead of holding the source until jobs.timeout.
func TestStalledAnswerFailsNamingTheCall(t *testing.T) {
	for _, method := range []string{slackfake.MethodHistory, slackfake.MethodReplies, slackfake.MethodUserInfo} {
		stalled := faults.PathSuffix("/" + method)
		b := setupFaulty(t, func(h http.Handler) http.Handler {
			return faults.Intercept(h, stalled, faults.Stall(`{"ok":true,"mess`))
		}, func(o *Options) { o.IdleTimeoutFunc = faults.IdleTimeouts(stalled) })
		err := b.collectGuarded(t)
		if !errors.Is(err, collectors.ErrBodyStalled) || !strings.Contains(err.Error(), "POST /api/"+method) {
			t.Errorf("%s: err = %v, want ErrBodyStalled naming POST /api/%s", method, err, method)
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("%s: error leaks the token: %v", method, err)
		}
	}
}

// Retry-After: 99999999999 used to overflow into a negative wait, waited as
// one second, again and again. It is capped and snoozed on.
func TestHugeRetryAfterIsCapped(t *testing.T) {
	b := setupFaulty(t, func(h http.Handler) http.Handler { return h }, nil)
	b.fake.RateLimitNext(1, 99999999999)
	err := b.collectGuarded(t)
	var rl *collectors.RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != collectors.MaxRetryAfter {
		t.Fatalf("err = %v (waits %v), want a *collectors.RateLimitError of %v", err, b.sleeps(), collectors.MaxRetryAfter)
	}
	for _, v := range []string{"Inf", "NaN", "1e400"} {
		if d, ok := RetryAfter(&http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {v}}}, time.Time{}); !ok || d != collectors.MaxRetryAfter {
			t.Errorf("Retry-After %s: %v, %v; want %v", v, d, ok, collectors.MaxRetryAfter)
		}
	}
}
