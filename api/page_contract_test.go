package api_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/groundwork-dev/groundwork/api"
)

// The pages' bodies are HTML, CSS and JavaScript: checked as text here,
// and in a browser by api/browsertest.
func init() {
	for _, ct := range []string{"text/html", "text/css", "text/javascript", "text/plain"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
}

// sharesContract exercises the share links and the pages against the
// OpenAPI document.
func sharesContract(t *testing.T, c *contract, b *reviewBundle, broken *httptest.Server) {
	t.Helper()
	u := b.srv.URL
	const share = "/v1/incidents/PCHECKOUT/share"
	_, raw := c.call(t, u, "POST", share, writeToken, []byte(`{"expires_in":"3h"}`))
	link := decode[api.ShareLinkJSON](t, raw)
	c.call(t, u, "POST", share, writeToken, nil)
	for _, body := range []string{`{"expires_in":"1s"}`, `{"expires":"1h"}`, `[]`} {
		c.call(t, u, "POST", share, writeToken, []byte(body))
	}
	c.call(t, u, "POST", share, writeToken, []byte(`{"expires_in":"`+strings.Repeat("1", 2<<20)+`"}`))
	c.call(t, u, "POST", share, writeToken, []byte(`x`), "Content-Type", "text/plain")
	c.call(t, u, "POST", "/v1/incidents/PNOPE/share", writeToken, nil)
	c.call(t, u, "POST", share, "", nil)
	c.call(t, u, "POST", share, readToken, nil)
	c.call(t, u, "GET", share, readToken, nil)
	c.call(t, u, "GET", "/v1/incidents/PNOPE/share", readToken, nil)
	c.call(t, u, "GET", share+"?x=1", readToken, nil)
	c.call(t, u, "GET", share, "", nil)
	c.call(t, u, "GET", share, writeToken, nil)
	revoke := share + "/" + link.ID
	c.call(t, u, "DELETE", share+"/not-a-uuid", writeToken, nil)
	c.call(t, u, "DELETE", share+"/0b7e3e2a-5f0c-4d7e-9a43-3c1f6c0de9a1", writeToken, nil)
	c.call(t, u, "DELETE", revoke, "", nil)
	c.call(t, u, "DELETE", revoke, readToken, nil)

	// The pages, through the link and with a token.
	page := "/incidents/PCHECKOUT?s=" + url.QueryEscape(link.Token)
	_, raw = c.call(t, u, "GET", page, "", nil)
	for _, m := range []string{"/static/page.", ".css", ".js"} {
		if !strings.Contains(string(raw), m) {
			t.Errorf("the page names no %s", m)
		}
	}
	start := strings.Index(string(raw), `href="/static/`) + len(`href="`)
	css := string(raw)[start : start+strings.Index(string(raw)[start:], `"`)]
	start = strings.Index(string(raw), `src="/static/`) + len(`src="`)
	js := string(raw)[start : start+strings.Index(string(raw)[start:], `"`)]
	c.call(t, u, "GET", css, "", nil)
	c.call(t, u, "GET", js, "", nil)
	c.call(t, u, "GET", "/static/nope.css", "", nil)
	c.call(t, u, "GET", page+"&zoom=window&present=1&step=2", "", nil)
	c.call(t, u, "GET", page+"&zoom=sideways", "", nil)
	c.call(t, u, "GET", "/incidents/PCHECKOUT?s=forged", "", nil)
	c.call(t, u, "GET", "/incidents/PCHECKOUT", "", nil)
	c.call(t, u, "GET", "/incidents/PCHECKOUT", writeToken, nil)
	c.call(t, u, "GET", "/incidents/PNOPE", readToken, nil)
	c.call(t, u, "GET", "/incidents", readToken, nil)
	c.call(t, u, "GET", "/incidents?cursor=forged", readToken, nil)
	c.call(t, u, "GET", "/incidents", "", nil)
	c.call(t, u, "GET", "/incidents", writeToken, nil)
	feed := "/incidents/PCHECKOUT/feed?after=0&s=" + url.QueryEscape(link.Token)
	c.visitSchema(t, "Event", []byte(c.callStream(t, u, feed)))
	c.call(t, u, "GET", feed, "", nil)
	c.call(t, u, "GET", "/incidents/PCHECKOUT/feed?after=-1", readToken, nil, "Accept", "text/event-stream")
	c.call(t, u, "GET", "/incidents/PCHECKOUT/feed?s=forged", "", nil, "Accept", "text/event-stream")
	c.call(t, u, "GET", "/incidents/PCHECKOUT/feed", "", nil, "Accept", "text/event-stream")
	c.call(t, u, "GET", "/incidents/PNOPE/feed", readToken, nil, "Accept", "text/event-stream")
	c.call(t, u, "DELETE", revoke, writeToken, nil)
	if status, raw := c.call(t, u, "GET", page, "", nil); status != http.StatusForbidden {
		t.Errorf("the revoked link opened the page: %d %s", status, raw)
	}

	// Faults of the service.
	for _, p := range []string{"/incidents", "/incidents/PCHECKOUT", share} {
		if status, raw := c.call(t, broken.URL, "GET", p, readToken, nil); status < 500 {
			t.Errorf("GET %s without a database: %d %s, want a 5xx", p, status, raw)
		}
	}
	c.call(t, broken.URL, "POST", share, writeToken, nil)
	c.call(t, broken.URL, "DELETE", revoke, writeToken, nil)
	c.call(t, broken.URL, "GET", "/incidents/PCHECKOUT/feed", readToken, nil, "Accept", "text/event-stream")
}
