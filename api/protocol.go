package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
)

// ProtocolErrorsAsJSON wraps ln so that the errors net/http's server answers
// by itself, before any handler runs, carry the JSON error shape like every
// other error: 431 for a request line and headers larger than the server's
// MaxHeaderBytes (pass the same value here; 0 means
// http.DefaultMaxHeaderBytes), 400 for a request that is not valid HTTP/1.1
// (a broken percent-escape in the path, an invalid header, no Host), 501 for
// an unknown Transfer-Encoding and 505 for an unsupported protocol version.
//
// The server writes those answers as plain text straight to the connection,
// each in one write of a fixed form ("HTTP/1.1 <status>", plain-text headers
// without Date, the status text as the body). Such a write is replaced by the
// JSON answer with the same status; every other write passes through
// unchanged. A handler's response cannot take that form: it always carries a
// Date header, and its later writes end in a line break or its body's last
// bytes, which are never a status text.
//
// Serve plain HTTP/1 over it. Under TLS the connection carries ciphertext,
// which passes through untouched (and the server's own answers stay plain).
func ProtocolErrorsAsJSON(ln net.Listener, maxHeaderBytes int) net.Listener {
	if maxHeaderBytes <= 0 {
		maxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	return &protocolErrorListener{Listener: ln, maxHeaderBytes: maxHeaderBytes}
}

type protocolErrorListener struct {
	net.Listener
	maxHeaderBytes int
}

func (l *protocolErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &protocolErrorConn{Conn: c, maxHeaderBytes: l.maxHeaderBytes}, nil
}

// protocolErrorConn rewrites the server's plain-text protocol errors.
type protocolErrorConn struct {
	net.Conn
	maxHeaderBytes int
}

func (c *protocolErrorConn) Write(p []byte) (int, error) {
	if out, ok := protocolErrorJSON(p, c.maxHeaderBytes); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite lets the server half-close after a 431, as it does on a bare
// TCP connection, so that the client reads the answer before the reset.
func (c *protocolErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps the connection's own ReadFrom (sendfile, splice) for
// bodies copied from files; it carries body bytes only.
func (c *protocolErrorConn) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(c.Conn, r)
}

// plainErrorHeaders are the headers net/http's server writes with its own
// error answers.
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// protocolErrorJSON returns the JSON answer that replaces p when p is one of
// net/http's plain-text protocol error answers.
func protocolErrorJSON(p []byte, maxHeaderBytes int) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	if len(p) > 512 || !bytes.HasPrefix(p, []byte(proto)) {
		return nil, false
	}
	i := bytes.Index(p, []byte(plainErrorHeaders))
	if i < 0 {
		return nil, false
	}
	statusLine, body := p[len(proto):i], p[i+len(plainErrorHeaders):]
	if len(statusLine) < 5 || statusLine[3] != ' ' || bytes.ContainsAny(statusLine, "\r\n") ||
		len(body) == 0 || bytes.ContainsAny(body, "\r\n") {
		return nil, false
	}
	status, err := strconv.Atoi(string(statusLine[:3]))
	if err != nil || status < 400 || status > 599 {
		return nil, false
	}
	if !bytes.Equal(body, statusLine) && !(status == http.StatusNotImplemented && string(body) == "Unsupported transfer encoding") {
		return nil, false
	}
	// What net/http says after "400 Bad Request: ", if anything.
	_, detail, _ := bytes.Cut(statusLine, []byte(": "))
	var code, msg string
	switch status {
	case http.StatusRequestHeaderFieldsTooLarge:
		code, msg = "headers_too_large", fmt.Sprintf("the request line and headers are too large: keep them under %d bytes", maxHeaderBytes)
	case http.StatusBadRequest:
		code, msg = "bad_request", "the request is not valid HTTP/1.1 (a malformed request line, a broken percent-escape in the path, or an invalid header)"
		if len(detail) > 0 {
			msg = "the request is not valid HTTP/1.1: " + string(detail)
		}
	case http.StatusNotImplemented:
		code, msg = "not_implemented", "the request's Transfer-Encoding is not supported: send chunked or a Content-Length"
	case http.StatusHTTPVersionNotSupported:
		code, msg = "http_version_not_supported", "the protocol version is not supported: send HTTP/1.1"
	default:
		code, msg = "bad_request", "the request is not valid HTTP"
		if len(detail) > 0 {
			msg += ": " + string(detail)
		}
	}
	var eb errorBody
	eb.Error.Code, eb.Error.Message = code, msg
	js, _ := json.Marshal(eb)
	js = append(js, '\n')
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		status, http.StatusText(status), len(js))
	out.Write(js)
	return out.Bytes(), true
}
